package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// ParseSecrets reads a vault's plaintext: a YAML mapping of secret names to
// scalar values, as in an Ansible vars file (`db_password: s3cret`). A value
// may itself be an inline `!vault` string; it is decrypted with password,
// which may be nil when there are none. Scalars keep the text as written, so
// `pin: 0123` is "0123", not 83.
func ParseSecrets(plaintext, password []byte) (map[string]string, error) {
	root, err := parseSecretsDoc(plaintext)
	if err != nil {
		return nil, fmt.Errorf("parse secrets: %w", err)
	}
	out := map[string]string{}
	for k, v := range pairs(root) {
		if !isVaultScalar(v) {
			out[k.Value] = v.Value
			continue
		}
		if len(password) == 0 {
			return nil, fmt.Errorf("parse secrets: line %d: %q is an inline vault: %w", v.Line, k.Value, ErrEmptyPassword)
		}
		plain, _, err := Decrypt([]byte(v.Value), password)
		if err != nil {
			return nil, fmt.Errorf("parse secrets: line %d: %q: %w", v.Line, k.Value, err)
		}
		out[k.Value] = string(plain)
	}
	return out, nil
}

// parseSecretsDoc parses and checks a vault's plaintext and returns its
// top-level mapping, or nil for an empty document.
func parseSecretsDoc(plaintext []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(plaintext))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("%v: %w", err, ErrSecretsFormat)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("more than one YAML document: %w", ErrSecretsFormat)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: top level is not a mapping: %w", root.Line, ErrSecretsFormat)
	}
	seen := map[string]bool{}
	for k, v := range pairs(root) {
		switch {
		case k.Kind != yaml.ScalarNode || k.Tag == "!!merge" || k.Value == "":
			return nil, fmt.Errorf("line %d: key is not a plain name: %w", k.Line, ErrSecretsFormat)
		case seen[k.Value]:
			return nil, fmt.Errorf("line %d: %q is defined twice: %w", k.Line, k.Value, ErrSecretsFormat)
		case v.Kind != yaml.ScalarNode:
			return nil, fmt.Errorf("line %d: %q is not a single value: %w", v.Line, k.Value, ErrSecretsFormat)
		case v.Tag == "!!null":
			return nil, fmt.Errorf("line %d: %q has no value: %w", v.Line, k.Value, ErrSecretsFormat)
		}
		seen[k.Value] = true
	}
	return root, nil
}

// pairs yields the key and alias-resolved value nodes of a mapping.
func pairs(m *yaml.Node) func(yield func(k, v *yaml.Node) bool) {
	return func(yield func(k, v *yaml.Node) bool) {
		if m == nil {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if !yield(m.Content[i], resolveAlias(m.Content[i+1])) {
				return
			}
		}
	}
}

// resolveAlias follows a YAML alias (*name) to the node it names.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// rawSecrets maps names to values as written, without decrypting: an
// inline vault maps to its tag and vault text, so it cannot pass for the
// same text without the tag.
func rawSecrets(root *yaml.Node) map[string]string {
	out := map[string]string{}
	for k, v := range pairs(root) {
		if isVaultScalar(v) {
			out[k.Value] = vaultTag + " " + v.Value
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}
