package jenkinstest

import (
	"fmt"
	"strconv"
	"strings"
)

// Jenkins' tree parameter: a comma list of property names, each with its sub-properties in
// [...] and, for an array, a range {M,N} (M inclusive, N exclusive), {M,}, {,N} or {N}.
// Every object keeps its _class, as Jenkins always writes it.

type treeNode struct {
	name     string
	children []treeNode // nil: the property as it is (an object keeps only its _class)
	hasRange bool
	from, to int // to < 0: to the end
}

// parseTree reads a tree parameter.
func parseTree(s string) ([]treeNode, error) {
	nodes, rest, err := parseTreeList(s)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, fmt.Errorf("unexpected %q", rest)
	}
	return nodes, nil
}

func parseTreeList(s string) ([]treeNode, string, error) {
	var out []treeNode
	for {
		i := strings.IndexAny(s, ",[]{}")
		if i < 0 {
			i = len(s)
		}
		n := treeNode{name: strings.TrimSpace(s[:i])}
		if n.name == "" {
			return nil, s, fmt.Errorf("a property name is missing")
		}
		s = s[i:]
		if strings.HasPrefix(s, "[") {
			kids, rest, err := parseTreeList(s[1:])
			if err != nil {
				return nil, rest, err
			}
			if !strings.HasPrefix(rest, "]") {
				return nil, rest, fmt.Errorf("a [ is not closed")
			}
			n.children = kids
			s = rest[1:]
		}
		if strings.HasPrefix(s, "{") {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return nil, s, fmt.Errorf("a { is not closed")
			}
			if err := n.setRange(s[1:end]); err != nil {
				return nil, s, err
			}
			s = s[end+1:]
		}
		out = append(out, n)
		if !strings.HasPrefix(s, ",") {
			return out, s, nil
		}
		s = s[1:]
	}
}

func (n *treeNode) setRange(r string) error {
	n.hasRange = true
	atoi := func(s string, def int) (int, error) {
		if s = strings.TrimSpace(s); s == "" {
			return def, nil
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("bad range {%s}", r)
		}
		return v, nil
	}
	lo, hi, comma := strings.Cut(r, ",")
	from, err := atoi(lo, 0)
	if err != nil {
		return err
	}
	n.from, n.to = from, from+1
	if comma {
		if n.to, err = atoi(hi, -1); err != nil {
			return err
		}
	}
	return nil
}

// filterTree keeps of v what the tree names.
func filterTree(v any, nodes []treeNode) any {
	obj, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	if c, ok := obj["_class"]; ok {
		out["_class"] = c
	}
	for _, n := range nodes {
		if n.name == "*" {
			for k, val := range obj {
				out[k] = applyNode(val, n)
			}
			continue
		}
		if val, ok := obj[n.name]; ok {
			out[n.name] = applyNode(val, n)
		}
	}
	return out
}

func applyNode(v any, n treeNode) any {
	switch x := v.(type) {
	case []any:
		if n.hasRange {
			from, to := min(n.from, len(x)), len(x)
			if n.to >= 0 {
				to = min(n.to, len(x))
			}
			x = x[from:max(from, to)]
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = filterTree(e, n.children)
		}
		return out
	case map[string]any:
		return filterTree(x, n.children)
	}
	return v
}
