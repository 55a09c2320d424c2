package secrets

import (
	"bytes"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// SetSecret sets name to value in a vault's plaintext and returns the new
// text. Only that entry's lines change: other entries, comments and blank
// lines stay byte for byte, and so does a comment at the end of the entry's
// own first line. A new name is appended at the end. A value that was an
// inline `!vault` string becomes a plain one, as the whole file is encrypted.
//
// If the document's layout is too unusual to edit in place (flow style, an
// indented top level, anchors) it is re-encoded whole instead, which keeps
// comments but may change spacing and quoting.
func SetSecret(plaintext []byte, name, value string) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("set secret: empty name: %w", ErrSecretsFormat)
	}
	// YAML text is Unicode; it has no way to carry arbitrary bytes.
	if !utf8.ValidString(name) || !utf8.ValidString(value) {
		return nil, fmt.Errorf("set secret %q: name or value is not valid UTF-8: %w", name, ErrSecretsFormat)
	}
	root, err := parseSecretsDoc(plaintext)
	if err != nil {
		return nil, fmt.Errorf("set secret %q: %w", name, err)
	}
	want := rawSecrets(root)
	want[name] = value
	entry, err := yaml.Marshal(map[string]string{name: value})
	if err != nil {
		return nil, fmt.Errorf("set secret %q: %w", name, err)
	}
	// The in-place edit works on lines, so check that it said what we meant
	// and fall back to the YAML encoder when it did not.
	if out, ok := spliceEntry(plaintext, root, name, entry); ok && holds(out, want) {
		return out, nil
	}
	out, err := reencode(plaintext, name, value)
	if err != nil {
		return nil, fmt.Errorf("set secret %q: %v: %w", name, err, ErrSecretsFormat)
	}
	if !holds(out, want) {
		return nil, fmt.Errorf("set secret %q: the document could not be rewritten: %w", name, ErrSecretsFormat)
	}
	return out, nil
}

// holds reports whether text parses to exactly the raw secrets want.
func holds(text []byte, want map[string]string) bool {
	root, err := parseSecretsDoc(text)
	return err == nil && maps.Equal(rawSecrets(root), want)
}

// spliceEntry replaces name's lines in text with entry, or appends entry.
// It reports false when the layout is one it does not handle.
func spliceEntry(text []byte, root *yaml.Node, name string, entry []byte) ([]byte, bool) {
	if root != nil && root.Style&yaml.FlowStyle != 0 {
		return nil, false
	}
	var k, v *yaml.Node
	for kk, vv := range pairs(root) {
		if kk.Value == name {
			k, v = kk, vv
		}
	}
	if k == nil {
		out := bytes.Clone(text)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(out, entry...), true
	}
	if k.Column != 1 || v.Anchor != "" {
		return nil, false
	}
	lines := bytes.SplitAfter(text, []byte("\n"))
	first := k.Line - 1
	if first >= len(lines) {
		return nil, false
	}
	last := entryEnd(lines, first, v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0)

	// Keep a comment that ends the key's line, e.g. `db: old  # rotated`.
	comment := k.LineComment
	if comment == "" {
		comment = v.LineComment
	}
	if comment != "" && !strings.Contains(string(lines[first]), comment) {
		comment = ""
	}
	if comment != "" {
		firstLine, rest, _ := bytes.Cut(entry, []byte("\n"))
		entry = append(append(append(bytes.Clone(firstLine), ' '), comment...), '\n')
		entry = append(entry, rest...)
	}

	var out []byte
	for _, l := range lines[:first] {
		out = append(out, l...)
	}
	out = append(out, entry...)
	for _, l := range lines[last+1:] {
		out = append(out, l...)
	}
	return out, true
}

// entryEnd returns the index of the last line of the entry that starts at
// lines[first]: the following indented lines, less trailing blank lines and
// comments that are not part of a block scalar's text.
func entryEnd(lines [][]byte, first int, block bool) int {
	last := first
	for i := first + 1; i < len(lines); i++ {
		l := lines[i]
		if len(bytes.TrimSpace(l)) != 0 && l[0] != ' ' && l[0] != '\t' {
			break
		}
		last = i
	}
	// A block scalar's text is indented at least as far as its first line;
	// a comment indented less, or any comment after a non-block value,
	// belongs to the document, not to the value.
	textIndent := 0
	if block {
		for i := first + 1; i <= last; i++ {
			if len(bytes.TrimSpace(lines[i])) != 0 {
				textIndent = indentOf(lines[i])
				break
			}
		}
	}
	for last > first {
		l := bytes.TrimSpace(lines[last])
		isComment := len(l) > 0 && l[0] == '#' && (!block || indentOf(lines[last]) < textIndent)
		if len(l) != 0 && !isComment {
			break
		}
		last--
	}
	return last
}

// indentOf counts the leading spaces and tabs of a line.
func indentOf(l []byte) int {
	return len(l) - len(bytes.TrimLeft(l, " \t"))
}

// reencode sets name to value in the YAML tree and encodes it again. YAML
// aliases are expanded first, so replacing an anchored value cannot leave an
// alias pointing at nothing.
func reencode(text []byte, name, value string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || resolveAlias(doc.Content[0]).Kind != yaml.MappingNode {
		doc = yaml.Node{Kind: yaml.DocumentNode, HeadComment: doc.HeadComment,
			Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	root := resolveAlias(doc.Content[0])
	doc.Content[0] = root
	newValue := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	found := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolveAlias(root.Content[i+1])
		if k.Value == name {
			newValue.LineComment = v.LineComment
			root.Content[i+1], found = newValue, true
			continue
		}
		expanded := *v
		expanded.Anchor = ""
		root.Content[i+1] = &expanded
	}
	if !found {
		root.Content = append(root.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name}, newValue)
	}
	// A flow mapping stays on one line; switch to block style so every
	// secret gets its own line.
	root.Style &^= yaml.FlowStyle
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
