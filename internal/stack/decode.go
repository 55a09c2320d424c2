package stack

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos is a place in a file, as editors print it.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// nodeDecoder is a value that decodes itself from a YAML node; the decoder
// calls it instead of walking the value's fields.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string) error
}

// decoder walks a YAML node tree into Go values by their `yaml` tags,
// remembering where every key stood so that later checks can point at it.
type decoder struct {
	file string
	pos  map[string]Pos
	errs Errors
}

func (d *decoder) at(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: d.at(n), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		if _, seen := d.pos[path]; !seen {
			d.pos[path] = d.at(n)
		}
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			if err := nd.decodeNode(d, n, path); err != nil {
				d.fail(n, path, "%v", err)
			}
			return
		}
	}
	if n.Tag == "!!null" {
		return // an empty key keeps its default
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, found %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected a string, found %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.fail(n, path, "expected a whole number, found %s", describe(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.fail(n, path, "expected true or false, found %s", describe(n))
			return
		}
		v.SetBool(n.Value == "true")
	default:
		panic(fmt.Sprintf("stack: no decoder for %s", v.Type()))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of keys, found %s", describe(n))
		return
	}
	fields := map[string]int{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, key, "unknown key%s", suggest(k.Value, keys(fields)))
			continue
		}
		if seen[k.Value] {
			d.fail(k, key, "key given twice; keep one")
			continue
		}
		seen[k.Value] = true
		d.pos[key] = d.valuePos(k, val)
		d.decode(val, v.Field(idx), key)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of keys, found %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if v.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.fail(k, key, "key given twice; keep one")
			continue
		}
		d.pos[key] = d.valuePos(k, val)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, key)
		v.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
}

// valuePos is where a key's problems are shown: at a scalar value itself,
// else at the key that opens the mapping or list.
func (d *decoder) valuePos(k, val *yaml.Node) Pos {
	if val.Kind == yaml.ScalarNode && val.Tag != "!!null" {
		return d.at(val)
	}
	return d.at(k)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// describe names what a node holds, for "expected X, found Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return strconv.Quote(n.Value)
	case "!!null":
		return "nothing"
	}
	return n.Value
}

// suggest proposes the closest known key for a misspelt one.
func suggest(got string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := levenshtein(got, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return fmt.Sprintf("; known keys here: %s", strings.Join(known, ", "))
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
