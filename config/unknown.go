package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// unknownKeys walks a decoded YAML document alongside the type it was
// decoded into and returns one *Error per key the type has no field for,
// with the dotted path of the key and, when one is close, the known key
// the writer probably meant. The official worker ignores such keys (its
// decoder does not check them), so a config written for a newer or older
// release still starts there; Tributary warns about each one instead of
// staying silent, and refuses them with strict_config: true.
func unknownKeys(doc *yaml.Node, t reflect.Type) []*Error {
	if doc == nil {
		return nil
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		doc = doc.Content[0]
	}
	w := &keyWalker{index: map[string][]string{}}
	w.indexKeys(t, "", map[reflect.Type]bool{})
	w.walk(doc, t, "")
	return w.found
}

type keyWalker struct {
	found []*Error
	// index maps a key name to every dotted path where it is known, for
	// keys written at the wrong level ("udp_port" at the top level).
	index map[string][]string
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// opaque reports whether t decodes itself (a custom UnmarshalYAML), so
// that its keys are not ours to check.
func opaque(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

// fields returns the YAML keys of a struct type, with inline structs
// flattened as yaml.v3 does.
func fields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range fields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// structOf returns the struct type behind pointers, or nil when t is not
// a struct whose keys can be checked.
func structOf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || opaque(t) {
		return nil
	}
	return t
}

func (w *keyWalker) indexKeys(t reflect.Type, prefix string, seen map[reflect.Type]bool) {
	st := structOf(t)
	if st == nil || seen[st] {
		return
	}
	seen[st] = true
	defer delete(seen, st)
	for name, ft := range fields(st) {
		path := join(prefix, name)
		w.index[name] = append(w.index[name], path)
		w.indexKeys(ft, path, seen)
	}
}

func (w *keyWalker) walk(n *yaml.Node, t reflect.Type, prefix string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if opaque(t) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		known := fields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue // merge key: yaml.v3 checks what it merges
			}
			ft, ok := known[k.Value]
			if !ok {
				w.found = append(w.found, w.unknown(k, prefix, known))
				continue
			}
			w.walk(v, ft, join(prefix, k.Value))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], t.Elem(), join(prefix, n.Content[i].Value))
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, v := range n.Content {
			w.walk(v, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i))
		}
	}
}

// unknown words the error of one unknown key.
func (w *keyWalker) unknown(k *yaml.Node, prefix string, known map[string]reflect.Type) *Error {
	reason := "unknown key"
	if s := w.suggest(k.Value, prefix, known); s != "" {
		reason += ", did you mean " + s + "?"
	}
	return &Error{Key: join(prefix, k.Value), Reason: fmt.Sprintf("%s (line %d)", reason, k.Line)}
}

// suggest returns the known key the writer most likely meant: the
// nearest key of the same section when it is a typo away, else the same
// key where it belongs in another section.
func (w *keyWalker) suggest(key, prefix string, known map[string]reflect.Type) string {
	best, bestD := "", -1
	for name := range known {
		d := editDistance(strings.ToLower(key), name)
		if bestD < 0 || d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	if bestD >= 0 && bestD <= maxTypo(key) {
		return join(prefix, best)
	}
	if paths := w.index[strings.ToLower(key)]; len(paths) == 1 {
		return paths[0]
	}
	return ""
}

// maxTypo is how many edits still read as a typo of a key of this length.
func maxTypo(key string) int {
	return max(1, min(3, len(key)/4))
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// editDistance is the Damerau–Levenshtein distance (optimal string
// alignment) between a and b: insertions, deletions, substitutions and
// swaps of two neighbours each count one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
