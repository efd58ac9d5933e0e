package custom

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkKeys walks a YAML mapping against the struct type t and reports the
// first unknown key with its file, line and dotted path: a misspelt key in
// HolmesGPT is silently ignored (or, in newer versions, an error without a
// line), and a toolset quietly missing a prerequisite or a parameter is
// worse than one that does not load.
func checkKeys(file string, n *yaml.Node, t reflect.Type, prefix string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t == reflect.TypeFor[yaml.Node]():
		return nil
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder reports the type error
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if why, ok := unsupportedKeys[k.Value]; ok {
				return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("%s%s: %s", prefix, k.Value, why)}
			}
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("unknown key %q", prefix+k.Value)}
			}
			if err := checkKeys(file, v, f.Type, prefix+k.Value+"."); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			if err := checkKeys(file, item, t.Elem(), fmt.Sprintf("%s[%d].", strings.TrimSuffix(prefix, "."), i)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(file, n.Content[i+1], t.Elem(), prefix+n.Content[i].Value+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if strings.Split(f.Tag.Get("yaml"), ",")[0] == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
