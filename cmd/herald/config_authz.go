package main

import (
	"errors"
	"reflect"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/ci"
)

// knownCommands is every command herald has, and whether it is dangerous; authz rules may name
// only these. A test checks it against the registry.
var knownCommands = map[string]bool{
	"start": false, "help": false, "commands": false, "getid": false, "status": false,
	"list": false, "last": false, "watch": false, "notify": false, "nay": false,
	"version": false, "source": false, "force": true, "stop": true,
}

// AuthzSpec is the authz section in the form package authz takes.
func (c *Config) AuthzSpec() authz.Spec {
	spec := authz.Spec{NotifyAdminsOnly: c.Authz.NotifyAdminsOnly}
	for _, g := range c.Authz.Groups {
		spec.Groups = append(spec.Groups, authz.Group{Name: g.Name, Members: g.Members, Line: g.Line})
	}
	for _, r := range c.Authz.Rules {
		spec.Rules = append(spec.Rules, authz.Rule{Commands: r.Commands, Who: r.Allow, Builders: r.Builders, Line: r.Line})
	}
	return spec
}

// Matrix compiles the authz section.
func (c *Config) Matrix() (*authz.Matrix, error) {
	return authz.Compile(c.AuthzSpec(), knownCommands)
}

func (c *Config) authzProblems() []problem {
	_, err := c.Matrix()
	if err == nil {
		return nil
	}
	var errs authz.Errors
	if !errors.As(err, &errs) {
		return []problem{{Line: c.Authz.Line, Msg: "authz: " + err.Error()}}
	}
	out := make([]problem, 0, len(errs))
	for _, e := range errs {
		out = append(out, problem{Line: e.Line, Msg: "authz: " + e.Msg})
	}
	return out
}

func knownEvent(name string) bool {
	_, err := ci.ParseKind(name)
	return err == nil
}

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p) }
