package github

import (
	"errors"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/herald-ci/herald/ci"
)

// A workflow that declares workflow_dispatch can be started by hand, with the inputs its file
// declares: GitHub's API lists workflows but not their triggers or inputs, so herald reads
// the file itself (at the default branch, through the contents API) to offer /force only for
// the workflows that can be dispatched, with their inputs as the force form.

// maxWorkflowFile is the longest workflow file read; the contents API serves files up to
// 1 MB base64-encoded, and a workflow is a few kilobytes.
const maxWorkflowFile = 1 << 20

// dispatchInput is one input a workflow_dispatch declares, as the file says it.
type dispatchInput struct {
	Name        string
	Description string
	Type        string // string (also when absent), number, boolean, choice, environment
	Required    bool
	Default     string // as written; "" when none
	Options     []string
}

// errNotWorkflow is wrapped when a file is not YAML or not a mapping at its top.
var errNotWorkflow = errors.New("github: not a workflow file")

// parseDispatch reads a workflow file's on: key and says whether it declares
// workflow_dispatch and with which inputs, in the file's order. on: may be one event
// ("on: workflow_dispatch"), a list of them, or a mapping from event to its settings. yaml.v3
// reads the key on as the string "on" (YAML 1.1 would make it true), so it is found by name.
func parseDispatch(src []byte) (inputs []dispatchInput, dispatchable bool, err error) {
	if len(src) > maxWorkflowFile {
		return nil, false, fmt.Errorf("%w: longer than %d bytes", errNotWorkflow, maxWorkflowFile)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, false, fmt.Errorf("%w: %v", errNotWorkflow, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, false, fmt.Errorf("%w: empty", errNotWorkflow)
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, false, fmt.Errorf("%w: its top is not a mapping", errNotWorkflow)
	}
	on := lookup(root, "on")
	if on == nil {
		return nil, false, nil
	}
	switch on.Kind {
	case yaml.ScalarNode:
		return nil, on.Value == "workflow_dispatch", nil
	case yaml.SequenceNode:
		for _, e := range on.Content {
			if e := deref(e); e.Kind == yaml.ScalarNode && e.Value == "workflow_dispatch" {
				return nil, true, nil
			}
		}
		return nil, false, nil
	case yaml.MappingNode:
	default:
		return nil, false, nil
	}
	wd, found := lookupFound(on, "workflow_dispatch")
	if !found {
		return nil, false, nil
	}
	if wd == nil || wd.Kind != yaml.MappingNode {
		return nil, true, nil // "workflow_dispatch:" with nothing, or null: no inputs
	}
	in := lookup(wd, "inputs")
	if in == nil || in.Kind != yaml.MappingNode {
		return nil, true, nil
	}
	for i := 0; i+1 < len(in.Content); i += 2 {
		k := deref(in.Content[i])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			continue
		}
		inputs = append(inputs, readInput(k.Value, deref(in.Content[i+1])))
	}
	return inputs, true, nil
}

// readInput reads one input's settings; an input written without any is a string.
func readInput(name string, n *yaml.Node) dispatchInput {
	in := dispatchInput{Name: name, Type: "string"}
	if n == nil || n.Kind != yaml.MappingNode {
		return in
	}
	in.Description = scalar(lookup(n, "description"))
	if t := scalar(lookup(n, "type")); t != "" {
		in.Type = t
	}
	in.Required, _ = strconv.ParseBool(scalar(lookup(n, "required")))
	in.Default = scalar(lookup(n, "default"))
	if opts := lookup(n, "options"); opts != nil && opts.Kind == yaml.SequenceNode {
		for _, o := range opts.Content {
			if o := deref(o); o.Kind == yaml.ScalarNode {
				in.Options = append(in.Options, o.Value)
			}
		}
	}
	return in
}

// forceFields are the force form of a dispatchable workflow: the ref first (a branch of the
// repository, the default branch first and preselected), then the inputs in the file's order.
func forceFields(inputs []dispatchInput, branches []string, defaultBranch string) []ci.ForceField {
	fields := []ci.ForceField{{
		Name: refField, Label: "branch", Type: ci.FieldChoice, Default: defaultBranch, Required: true, Choices: branches,
	}}
	for _, in := range inputs {
		f := ci.ForceField{Name: in.Name, Label: in.Description, Default: in.Default, Required: in.Required}
		if f.Label == "" {
			f.Label = in.Name
		}
		switch in.Type {
		case "boolean":
			f.Type = ci.FieldBool
			if f.Default == "" {
				f.Default = "false" // GitHub's form shows an unset boolean unticked
			}
		case "number":
			f.Type = ci.FieldInt
		case "choice":
			f.Type = ci.FieldChoice
			f.Choices = in.Options
		default: // string, environment, and types GitHub adds later
			f.Type = ci.FieldText
		}
		fields = append(fields, f)
	}
	return fields
}

// refField is the force form's field for the branch a dispatch runs on. GitHub's input ids
// begin with a letter or _ and hold only letters, digits, - and _, so no input of a
// workflow can take this name (a workflow may well have an input called ref).
const refField = "@ref"

// deref follows aliases (a bounded number of them: an alias may point at a mapping that holds
// it).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// lookup is the value at key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	n, _ := lookupFound(m, key)
	return n
}

// lookupFound is the value at key in mapping m (nil when it is null) and whether the key is
// there.
func lookupFound(m *yaml.Node, key string) (*yaml.Node, bool) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := deref(m.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			v := deref(m.Content[i+1])
			if v != nil && v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				v = nil
			}
			return v, true
		}
	}
	return nil, false
}

// scalar is a scalar node's text, "" for anything else.
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
