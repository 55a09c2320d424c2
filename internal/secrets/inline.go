package secrets

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// vaultTag is the YAML tag Ansible gives inline encrypted values.
const vaultTag = "!vault"

// inlineIndent is how far ansible-vault encrypt_string indents the vault
// text under `name: !vault |`.
const inlineIndent = 10

// Inline is one value decoded from an `ansible-vault encrypt_string` snippet.
type Inline struct {
	// Name is the variable name before `: !vault |`, "" for a bare value.
	Name string
	// Value is the decrypted value.
	Value []byte
	// Label is the vault-id label of a 1.2 header, "" for 1.1.
	Label string
}

// EncryptString encrypts value the way `ansible-vault encrypt_string --name
// name` does and returns the same YAML snippet, without a trailing newline:
//
//	name: !vault |
//	          $ANSIBLE_VAULT;1.1;AES256
//	          6162...
//
// An empty name gives a bare `!vault |` value.
func EncryptString(value, password []byte, name, label string) (string, error) {
	data, err := Encrypt(value, password, label)
	if err != nil {
		return "", fmt.Errorf("encrypt string: %w", err)
	}
	var b strings.Builder
	if name != "" {
		// Quote the name only when YAML needs it, so ordinary names look
		// exactly as Ansible prints them.
		key, err := yamlKey(name)
		if err != nil {
			return "", fmt.Errorf("encrypt string: %w", err)
		}
		b.WriteString(key + ": ")
	}
	b.WriteString(vaultTag + " |")
	for line := range strings.Lines(string(data)) {
		b.WriteString("\n" + strings.Repeat(" ", inlineIndent) + strings.TrimSuffix(line, "\n"))
	}
	return b.String(), nil
}

// DecryptString decodes and decrypts one snippet made by EncryptString or
// `ansible-vault encrypt_string`: either `name: !vault |` with its block, or
// a bare `!vault |` block.
func DecryptString(snippet, password []byte) (Inline, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(snippet, &doc); err != nil {
		return Inline{}, fmt.Errorf("decrypt string: %v: %w", err, ErrInlineFormat)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return Inline{}, fmt.Errorf("decrypt string: %w", ErrInlineFormat)
	}
	var in Inline
	node := doc.Content[0]
	if node.Kind == yaml.MappingNode {
		if len(node.Content) != 2 || node.Content[0].Kind != yaml.ScalarNode {
			return Inline{}, fmt.Errorf("decrypt string: want exactly one name: %w", ErrInlineFormat)
		}
		in.Name, node = node.Content[0].Value, node.Content[1]
	}
	if !isVaultScalar(node) {
		return Inline{}, fmt.Errorf("decrypt string: value has no !vault tag: %w", ErrInlineFormat)
	}
	var err error
	in.Value, in.Label, err = Decrypt([]byte(node.Value), password)
	if err != nil {
		return Inline{}, fmt.Errorf("decrypt string %q: %w", in.Name, err)
	}
	return in, nil
}

// isVaultScalar reports whether n is an inline `!vault` value.
func isVaultScalar(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == vaultTag
}

// yamlKey renders name as a YAML mapping key, quoted only if needed.
func yamlKey(name string) (string, error) {
	out, err := yaml.Marshal(name)
	if err != nil {
		return "", err
	}
	out = bytes.TrimSuffix(out, []byte("\n"))
	if bytes.ContainsAny(out, "\n") {
		return "", fmt.Errorf("name %q spans lines: %w", name, ErrSecretsFormat)
	}
	return string(out), nil
}
