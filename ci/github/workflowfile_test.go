package github

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/herald-ci/herald/ci"
)

func readWorkflow(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDispatch(t *testing.T) {
	tests := []struct {
		file   string
		ok     bool
		inputs []dispatchInput
		err    bool
	}{
		{file: "dispatch_inputs.yml", ok: true, inputs: []dispatchInput{
			{Name: "environment", Description: "Where to deploy", Type: "choice", Required: true, Default: "staging", Options: []string{"staging", "production"}},
			{Name: "dry_run", Description: "Only print what would change", Type: "boolean", Default: "true"},
			{Name: "replicas", Type: "number", Default: "3"},
			{Name: "note", Type: "string"},
			{Name: "target", Type: "environment"},
		}},
		{file: "on_string.yml", ok: true},
		{file: "on_list.yml", ok: true},
		{file: "on_map_empty.yml", ok: true},
		{file: "push_only.yml", ok: false},
		{file: "on_quoted.yml", ok: true, inputs: []dispatchInput{
			{Name: "level", Type: "choice", Options: []string{"low", "high"}},
		}},
		{file: "not_a_mapping.yml", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			inputs, ok, err := parseDispatch(readWorkflow(t, tt.file))
			if tt.err {
				if !errors.Is(err, errNotWorkflow) {
					t.Fatalf("error %v, want errNotWorkflow", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || !reflect.DeepEqual(inputs, tt.inputs) {
				t.Errorf("dispatchable %v inputs %+v\nwant %v %+v", ok, inputs, tt.ok, tt.inputs)
			}
		})
	}
}

func TestParseDispatchOddFiles(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		ok        bool
		err       bool
	}{
		{"empty file", "", false, true},
		{"broken yaml", "on: [push\n", false, true},
		{"no on", "name: x\njobs: {}\n", false, false},
		{"on is null", "on:\n", false, false},
		{"on a number", "on: 3\n", false, false},
		{"inputs not a mapping", "on:\n  workflow_dispatch:\n    inputs: [a, b]\n", true, false},
		{"workflow_dispatch null", "on:\n  workflow_dispatch: null\n", true, false},
		{"alias to the events", "x: &ev [workflow_dispatch]\non: *ev\n", true, false},
		{"alias to itself", "a: &a [*a]\non: *a\n", false, false},
		{"another event named alike", "on: [workflow_dispatch_x]\n", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := parseDispatch([]byte(tt.src))
			if (err != nil) != tt.err || ok != tt.ok {
				t.Errorf("dispatchable %v error %v; want %v, error %v", ok, err, tt.ok, tt.err)
			}
		})
	}
}

func TestForceFields(t *testing.T) {
	inputs, _, err := parseDispatch(readWorkflow(t, "dispatch_inputs.yml"))
	if err != nil {
		t.Fatal(err)
	}
	got := forceFields(inputs, []string{"main", "develop"}, "main")
	want := []ci.ForceField{
		{Name: "@ref", Label: "branch", Type: ci.FieldChoice, Default: "main", Required: true, Choices: []string{"main", "develop"}},
		{Name: "environment", Label: "Where to deploy", Type: ci.FieldChoice, Default: "staging", Required: true, Choices: []string{"staging", "production"}},
		{Name: "dry_run", Label: "Only print what would change", Type: ci.FieldBool, Default: "true"},
		{Name: "replicas", Label: "replicas", Type: ci.FieldInt, Default: "3"},
		{Name: "note", Label: "note", Type: ci.FieldText},
		{Name: "target", Label: "target", Type: ci.FieldText},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields\n got %+v\nwant %+v", got, want)
	}
}

func TestDispatchParams(t *testing.T) {
	inputs, _, _ := parseDispatch(readWorkflow(t, "dispatch_inputs.yml"))
	s := ci.ForceScheduler{Name: "Deploy", Fields: forceFields(inputs, []string{"main", "develop"}, "main")}
	for _, tt := range []struct {
		name   string
		params map[string]string
		ref    string
		inputs map[string]any
		msg    string // a user error's message
	}{
		{name: "defaults", params: nil, ref: "main",
			inputs: map[string]any{"environment": "staging", "dry_run": "true", "replicas": "3"}},
		{name: "values as strings", params: map[string]string{"@ref": "develop", "dry_run": "False", "replicas": "2.5", "note": "hi", "environment": "production"},
			ref: "develop", inputs: map[string]any{"environment": "production", "dry_run": "false", "replicas": "2.5", "note": "hi"}},
		{name: "unknown input", params: map[string]string{"colour": "red"}, msg: "Deploy has no input colour"},
		{name: "bad choice", params: map[string]string{"environment": "moon"}, msg: "input environment must be one of staging, production"},
		{name: "bad boolean", params: map[string]string{"dry_run": "maybe"}, msg: "input dry_run must be true or false"},
		{name: "bad number", params: map[string]string{"replicas": "many"}, msg: "input replicas must be a number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref, in, err := dispatchParams(s, tt.params)
			if tt.msg != "" {
				var ue *ci.UserError
				if !errors.As(err, &ue) || ue.Msg != tt.msg {
					t.Fatalf("error %v, want the user error %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ref != tt.ref || !reflect.DeepEqual(in, tt.inputs) {
				t.Errorf("ref %q inputs %#v, want %q %#v", ref, in, tt.ref, tt.inputs)
			}
		})
	}
	required := ci.ForceScheduler{Name: "X", Fields: []ci.ForceField{{Name: "@ref", Required: true}, {Name: "who", Required: true}}}
	var ue *ci.UserError
	if _, _, err := dispatchParams(required, map[string]string{"@ref": "main"}); !errors.As(err, &ue) || ue.Msg != "input who is required" {
		t.Errorf("missing required input: %v", err)
	}
	if _, _, err := dispatchParams(required, map[string]string{"who": "me"}); !errors.As(err, &ue) || ue.Msg != "the branch is required" {
		t.Errorf("missing branch: %v", err)
	}
}

// FuzzParseDispatch: a workflow file is written by anyone who can push to the repository;
// whatever it holds must not panic, and what parses must give fields that are clean once
// cleaned and typed as herald knows them.
func FuzzParseDispatch(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "workflows", "*.yml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a [*a]\non: *a\n"))
	f.Add([]byte("on: {workflow_dispatch: {inputs: {x: {type: choice, options: [1, {a: b}]}}}}"))
	f.Fuzz(func(t *testing.T, src []byte) {
		inputs, ok, err := parseDispatch(src)
		if err != nil {
			if !errors.Is(err, errNotWorkflow) || ok || inputs != nil {
				t.Fatalf("error %v with dispatchable %v inputs %v", err, ok, inputs)
			}
			return
		}
		if !ok && inputs != nil {
			t.Fatalf("inputs %v of a workflow that cannot be dispatched", inputs)
		}
		fields := forceFields(inputs, []string{"main"}, "main")
		if len(fields) != len(inputs)+1 || fields[0].Name != refField {
			t.Fatalf("fields %+v for inputs %+v", fields, inputs)
		}
		for i, fl := range fields[1:] {
			if fl.Name == "" || fl.Name != inputs[i].Name || fl.Label == "" {
				t.Errorf("field %+v of input %+v", fl, inputs[i])
			}
			switch fl.Type {
			case ci.FieldText, ci.FieldInt, ci.FieldBool, ci.FieldChoice:
			default:
				t.Errorf("field %s of type %q", fl.Name, fl.Type)
			}
		}
	})
}
