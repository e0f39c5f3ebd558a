package main

import (
	"reflect"

	"gopkg.in/yaml.v3"
)

// commonCIKeys are the keys of a ci: entry that herald reads for every provider; the rest
// belong to the provider's section.
var commonCIKeys = []string{"name", "type"}

// decodeNode reads a ci: entry in two steps: name and type, then the other keys into the
// section of that type's provider package, as strictly as the rest of the file. An entry
// whose type is missing or unknown is read as the closest known type, so that one run of
// check-config still shows its other problems.
func (c *CIConfig) decodeNode(d *decoder, n *yaml.Node, path string) {
	c.Line = n.Line
	c.lines = map[string]int{}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "%s: expected a mapping of keys, got %s", path, kindName(n, path))
		c.Section = closestProviderType("").newSection()
		return
	}
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		var dst *string
		switch k.Value {
		case "name":
			dst = &c.Name
		case "type":
			dst = &c.Type
		default:
			rest.Content = append(rest.Content, k, val)
			keyLines(val, k.Value, c.lines)
			continue
		}
		if seen[k.Value] {
			d.addf(k.Line, "%s: key %q appears twice", path, k.Value)
			continue
		}
		seen[k.Value] = true
		d.decode(val, reflect.ValueOf(dst), join(path, k.Value))
		c.lines[k.Value] = val.Line
	}
	t, ok := lookupProviderType(c.Type)
	if !ok {
		t = closestProviderType(c.Type)
	}
	c.Section = t.newSection()
	d.decodeStructAlso(rest, reflect.ValueOf(c.Section).Elem(), path, commonCIKeys)
}

// keyLines records the line of the value at key and of every key below it ("auth",
// "auth.type"), so a provider's problem with a key is reported at that key's line. An alias
// counts as the line it is written at and is not followed: it may refer to a mapping that
// holds it.
func keyLines(n *yaml.Node, key string, lines map[string]int) {
	lines[key] = n.Line
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keyLines(n.Content[i+1], key+"."+n.Content[i].Value, lines)
	}
}
