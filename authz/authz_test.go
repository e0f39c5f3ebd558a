package authz

import (
	"errors"
	"reflect"
	"testing"

	"github.com/herald-ci/herald/ci/glob"
)

// known is herald's command set as the registry reports it.
var known = map[string]bool{
	"getid": false, "status": false, "last": false, "list": false, "watch": false,
	"notify": false, "help": false, "commands": false, "source": false, "version": false,
	"force": true, "stop": true, "shutdown": true,
}

func mustCompile(t *testing.T, spec Spec) *Matrix {
	t.Helper()
	m, err := Compile(spec, known)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

type check struct {
	user    int64
	command string
	builder string
	allowed bool
	reason  string
}

func runChecks(t *testing.T, m *Matrix, checks []check) {
	t.Helper()
	for _, c := range checks {
		d := m.Decide(c.user, c.command, c.builder)
		if d.Allowed != c.allowed || d.Reason != c.reason {
			t.Errorf("Decide(%d, %q, %q) = {%v %q}, want {%v %q}",
				c.user, c.command, c.builder, d.Allowed, d.Reason, c.allowed, c.reason)
		}
	}
}

// TestBuildbotExample is the sample from Buildbot's manual:
//
//	authz={'getid': True, '': [123456, 789012], ('force', 'stop'): [123456]}
func TestBuildbotExample(t *testing.T) {
	m := mustCompile(t, Spec{Rules: []Rule{
		{Commands: []string{"getid"}, Who: []string{"everyone"}, Line: 1},
		{Commands: []string{"safe"}, Who: []string{"123456", "789012"}, Line: 2},
		{Commands: []string{"force", "stop"}, Who: []string{"123456"}, Line: 3},
	}})
	runChecks(t, m, []check{
		{555, "getid", "", true, ""},
		{555, "status", "", false, "you may not use /status"},
		{555, "force", "", false, "you may not use /force"},
		{789012, "status", "", true, ""},
		{789012, "getid", "", true, ""},
		{789012, "force", "", false, "you may not use /force"},
		{789012, "force", "main", false, "you may not use /force"},
		{123456, "force", "", true, ""},
		{123456, "force", "main", true, ""},
		{123456, "stop", "main", true, ""},
		{123456, "status", "", true, ""},
		// shutdown is dangerous and no rule names it or "dangerous": denied by default.
		{123456, "shutdown", "", false, "you may not use /shutdown"},
	})
}

func TestDefaults(t *testing.T) {
	for name, m := range map[string]*Matrix{
		"Default":    Default(known),
		"empty spec": mustCompile(t, Spec{}),
	} {
		t.Run(name, func(t *testing.T) {
			runChecks(t, m, []check{
				{1, "status", "", true, ""},
				{1, "notify", "", true, ""},
				{1, "force", "", false, "you may not use /force"},
				{1, "stop", "b", false, "you may not use /stop"},
				{1, "shutdown", "", false, "you may not use /shutdown"},
				// A command the caller did not list falls back to Buildbot's classes.
				{1, "brandnew", "", true, ""},
			})
			if m.MayAny(1, "force") {
				t.Error("MayAny(force) with defaults = true")
			}
			if !m.MayNotify(true, false) {
				t.Error("MayNotify without notify_admins_only = false")
			}
		})
	}
}

func TestMatrixDangerous(t *testing.T) {
	m := mustCompile(t, Spec{})
	for cmd, want := range map[string]bool{"force": true, "stop": true, "status": false, "notify": false, "shutdown": true, "rebuild": false} {
		if got := m.Dangerous(cmd); got != want {
			t.Errorf("Dangerous(%q) = %v, want %v", cmd, got, want)
		}
	}
	if !Default(map[string]bool{"rebuild": true}).Dangerous("rebuild") {
		t.Error("the known map decides")
	}
}

func TestIsDangerous(t *testing.T) {
	for cmd, want := range map[string]bool{"force": true, "stop": true, "shutdown": true, "status": false, "getid": false, "": false} {
		if got := IsDangerous(cmd); got != want {
			t.Errorf("IsDangerous(%q) = %v, want %v", cmd, got, want)
		}
	}
}

func TestGroups(t *testing.T) {
	m := mustCompile(t, Spec{
		Groups: []Group{
			{Name: "release", Members: []string{"10", "11"}, Line: 2},
			{Name: "docs", Members: []string{"20"}, Line: 3},
		},
		Rules: []Rule{
			{Commands: []string{"dangerous"}, Who: []string{"@release", "30"}, Line: 5},
			{Commands: []string{"status"}, Who: []string{"@docs"}, Line: 6},
		},
	})
	runChecks(t, m, []check{
		{10, "force", "x", true, ""},
		{11, "shutdown", "", true, ""},
		{30, "stop", "x", true, ""},
		{20, "force", "x", false, "you may not use /force"},
		{20, "status", "", true, ""},
		{10, "status", "", false, "you may not use /status"},
		{10, "last", "", true, ""},
	})
}

func TestBuilderScopes(t *testing.T) {
	m := mustCompile(t, Spec{
		Groups: []Group{
			{Name: "release", Members: []string{"10"}},
			{Name: "docs", Members: []string{"20"}},
		},
		Rules: []Rule{
			{Commands: []string{"dangerous"}, Who: []string{"@release"}},
			{Commands: []string{"force"}, Who: []string{"@docs"}, Builders: []string{"docs-*", "www"}},
			{Commands: []string{"dangerous"}, Who: []string{"nobody"}, Builders: []string{"prod-*"}},
		},
	})
	runChecks(t, m, []check{
		// docs may force only the docs builders, and may not stop anything.
		{20, "force", "docs-en", true, ""},
		{20, "force", "www", true, ""},
		{20, "force", "main", false, "you may force only docs-*, www"},
		{20, "force", "", true, "you may force only docs-*, www"},
		{20, "stop", "docs-en", false, "you may not use /stop"},
		// The force rule names the command, so on docs-* it replaces the release rule.
		{10, "force", "docs-en", false, "you may not use /force on docs-en"},
		{10, "force", "main", true, ""},
		{10, "force", "", true, ""},
		{10, "stop", "docs-en", true, ""},
		// "nobody" on prod-* takes the right away from release: for stop, and for force
		// too, since no rule naming force matches prod-*.
		{10, "stop", "prod-db", false, "you may not use /stop on prod-db"},
		{10, "force", "prod-db", false, "you may not use /force on prod-db"},
		{99, "force", "main", false, "you may not use /force"},
	})
	if d := m.Decide(20, "force", ""); !reflect.DeepEqual(d.Only, []string{"docs-*", "www"}) {
		t.Errorf("Only = %q, want [docs-* www]", d.Only)
	}
	if d := m.Decide(10, "force", "main"); d.Only != nil {
		t.Errorf("Only for an unlimited user = %q, want nil", d.Only)
	}
	for _, c := range []struct {
		user    int64
		command string
		want    bool
	}{
		{20, "force", true},
		{20, "stop", false},
		{10, "stop", true},
		{99, "force", false},
		{99, "status", true},
	} {
		if got := m.MayAny(c.user, c.command); got != c.want {
			t.Errorf("MayAny(%d, %q) = %v, want %v", c.user, c.command, got, c.want)
		}
	}
}

func TestScopesWithCharacterClasses(t *testing.T) {
	m := mustCompile(t, Spec{Rules: []Rule{
		{Commands: []string{"force"}, Who: []string{"1"}, Builders: []string{"[ab]-?", `lit\*`}},
	}})
	runChecks(t, m, []check{
		{1, "force", "a-1", true, ""},
		{1, "force", "lit*", true, ""},
		{1, "force", "c-1", false, `you may force only [ab]-?, lit\*`},
		{1, "force", "", true, `you may force only [ab]-?, lit\*`},
	})
}

func TestExamples(t *testing.T) {
	for _, g := range []string{"docs-*", "*", "?", "[ab]x", "[^a]", "[a-c]*z", `\[x`, "a*b*c", `[\]]x`, "*/linux"} {
		ex := examples(g)
		if len(ex) == 0 {
			t.Errorf("examples(%q) is empty", g)
		}
		for _, name := range ex {
			if !glob.Match(g, name) {
				t.Errorf("examples(%q) gave %q, which it does not match", g, name)
			}
		}
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name   string
		rules  []Rule
		checks []check
	}{
		{
			name: "command beats class whatever the order",
			rules: []Rule{
				{Commands: []string{"status"}, Who: []string{"everyone"}},
				{Commands: []string{"safe"}, Who: []string{"nobody"}},
			},
			checks: []check{
				{1, "status", "", true, ""},
				{1, "last", "", false, "you may not use /last"},
			},
		},
		{
			name: "class beats defaults",
			rules: []Rule{
				{Commands: []string{"dangerous"}, Who: []string{"everyone"}},
			},
			checks: []check{
				{1, "force", "x", true, ""},
				{1, "shutdown", "", true, ""},
				{1, "status", "", true, ""},
			},
		},
		{
			name: "last of the same specificity wins",
			rules: []Rule{
				{Commands: []string{"force"}, Who: []string{"1"}},
				{Commands: []string{"force"}, Who: []string{"2"}},
			},
			checks: []check{
				{1, "force", "x", false, "you may not use /force"},
				{2, "force", "x", true, ""},
			},
		},
		{
			name: "last class rule wins",
			rules: []Rule{
				{Commands: []string{"safe"}, Who: []string{"nobody"}},
				{Commands: []string{"safe"}, Who: []string{"everyone"}},
			},
			checks: []check{{1, "status", "", true, ""}},
		},
		{
			name: "a later unscoped rule does not hide a scoped one",
			rules: []Rule{
				{Commands: []string{"force"}, Who: []string{"1"}, Builders: []string{"a*"}},
				{Commands: []string{"force"}, Who: []string{"2"}},
			},
			checks: []check{
				{1, "force", "abc", true, ""},
				{2, "force", "abc", false, "you may not use /force on abc"},
				{2, "force", "xyz", true, ""},
				{1, "force", "xyz", false, "you may force only a*"},
			},
		},
		{
			name: "last of two matching scoped rules wins",
			rules: []Rule{
				{Commands: []string{"force"}, Who: []string{"1"}, Builders: []string{"*"}},
				{Commands: []string{"force"}, Who: []string{"nobody"}, Builders: []string{"rel-*"}},
			},
			checks: []check{
				{1, "force", "dev", true, ""},
				{1, "force", "rel-1", false, "you may not use /force on rel-1"},
				{1, "force", "", true, ""},
			},
		},
		{
			name: "a scoped class rule loses to a rule naming the command",
			rules: []Rule{
				{Commands: []string{"force"}, Who: []string{"1"}},
				{Commands: []string{"dangerous"}, Who: []string{"nobody"}, Builders: []string{"*"}},
			},
			checks: []check{
				{1, "force", "any", true, ""},
				{1, "stop", "any", false, "you may not use /stop"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runChecks(t, mustCompile(t, Spec{Rules: tt.rules}), tt.checks)
		})
	}
}

func TestMayNotify(t *testing.T) {
	m := mustCompile(t, Spec{NotifyAdminsOnly: true})
	for _, c := range []struct {
		name             string
		isGroup, isAdmin bool
		want             bool
	}{
		{"private chat", false, false, true},
		{"group admin", true, true, true},
		{"group member", true, false, false},
	} {
		if got := m.MayNotify(c.isGroup, c.isAdmin); got != c.want {
			t.Errorf("%s: MayNotify = %v, want %v", c.name, got, c.want)
		}
	}
	if !m.NotifyAdminsOnly() || mustCompile(t, Spec{}).NotifyAdminsOnly() || Default(nil).NotifyAdminsOnly() {
		t.Error("NotifyAdminsOnly does not say whether the rule is on")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{
			name: "unknown command",
			spec: Spec{Rules: []Rule{{Commands: []string{"frce"}, Who: []string{"1"}, Line: 4}}},
			want: `line 4: unknown command "frce"`,
		},
		{
			name: "command with slash",
			spec: Spec{Rules: []Rule{{Commands: []string{"/force"}, Who: []string{"1"}, Line: 4}}},
			want: `line 4: unknown command "/force" (write command names without the slash)`,
		},
		{
			name: "unknown group",
			spec: Spec{Rules: []Rule{{Commands: []string{"force"}, Who: []string{"@ops"}, Line: 7}}},
			want: `line 7: unknown group "@ops"`,
		},
		{
			name: "user id not a number",
			spec: Spec{Rules: []Rule{{Commands: []string{"force"}, Who: []string{"alice"}, Line: 2}}},
			want: `line 2: user id "alice" is not a number`,
		},
		{
			name: "negative user id",
			spec: Spec{Rules: []Rule{{Commands: []string{"force"}, Who: []string{"-100123"}, Line: 2}}},
			want: `line 2: user id "-100123" must be positive (negative ids are chats, not users)`,
		},
		{
			name: "everyone mixed with ids",
			spec: Spec{Rules: []Rule{{Commands: []string{"status"}, Who: []string{"123", "everyone"}, Line: 3}}},
			want: `line 3: "everyone" cannot be mixed with other entries`,
		},
		{
			name: "nobody mixed with a group",
			spec: Spec{
				Groups: []Group{{Name: "g", Members: []string{"1"}, Line: 1}},
				Rules:  []Rule{{Commands: []string{"status"}, Who: []string{"nobody", "@g"}, Line: 3}},
			},
			want: `line 3: "nobody" cannot be mixed with other entries`,
		},
		{
			name: "builders on a safe command",
			spec: Spec{Rules: []Rule{{Commands: []string{"status"}, Who: []string{"1"}, Builders: []string{"a"}, Line: 5}}},
			want: `line 5: builders are allowed only on dangerous commands, not on "status"`,
		},
		{
			name: "builders on the safe class",
			spec: Spec{Rules: []Rule{{Commands: []string{"safe"}, Who: []string{"1"}, Builders: []string{"a"}, Line: 5}}},
			want: `line 5: builders are allowed only on dangerous commands, not on "safe"`,
		},
		{
			name: "bad glob",
			spec: Spec{Rules: []Rule{{Commands: []string{"force"}, Who: []string{"1"}, Builders: []string{"docs-["}, Line: 6}}},
			want: `line 6: bad builder pattern "docs-[": a [ is never closed with ]`,
		},
		{
			name: "empty commands",
			spec: Spec{Rules: []Rule{{Who: []string{"1"}, Line: 8}}},
			want: `line 8: commands is empty`,
		},
		{
			name: "empty who",
			spec: Spec{Rules: []Rule{{Commands: []string{"force"}, Line: 8}}},
			want: `line 8: who is empty (write "nobody" to deny everyone)`,
		},
		{
			name: "duplicate group",
			spec: Spec{Groups: []Group{
				{Name: "docs", Members: []string{"1"}, Line: 2},
				{Name: "docs", Members: []string{"2"}, Line: 5},
			}},
			want: `line 5: duplicate group "docs" (first defined on line 2)`,
		},
		{
			name: "group member not a number",
			spec: Spec{Groups: []Group{{Name: "docs", Members: []string{"bob"}, Line: 2}}},
			want: `line 2: group "docs": user id "bob" is not a number`,
		},
		{
			name: "group name with @",
			spec: Spec{Groups: []Group{{Name: "@docs", Members: []string{"1"}, Line: 2}}},
			want: `line 2: group name "@docs" must not start with @ (name it "docs"; rules write "@docs")`,
		},
		{
			name: "every problem at once",
			spec: Spec{
				Groups: []Group{{Name: "a", Line: 1}, {Name: "a", Line: 2}},
				Rules: []Rule{
					{Commands: []string{"nope"}, Who: []string{"x"}, Line: 3},
					{Commands: []string{"status"}, Who: []string{"@b"}, Builders: []string{"*"}, Line: 4},
				},
			},
			want: `line 2: duplicate group "a" (first defined on line 1)
line 3: user id "x" is not a number
line 3: unknown command "nope"
line 4: unknown group "@b"
line 4: builders are allowed only on dangerous commands, not on "status"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.spec, known)
			if err == nil {
				t.Fatalf("Compile succeeded, want error %q", tt.want)
			}
			if m != nil {
				t.Errorf("Compile returned a matrix with an error")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Errorf("error %T is not a non-empty Errors", err)
			}
		})
	}
}

func TestErrorWithoutLine(t *testing.T) {
	if got := (Error{Msg: "x"}).Error(); got != "x" {
		t.Errorf("Error() = %q, want %q", got, "x")
	}
}

// TestCompileDoesNotAlias checks that changing the spec or known map after Compile does not
// change the matrix: the config may be reloaded while the old matrix is still in use.
func TestCompileDoesNotAlias(t *testing.T) {
	k := map[string]bool{"force": true, "status": false}
	spec := Spec{Rules: []Rule{{Commands: []string{"force"}, Who: []string{"1"}, Builders: []string{"a"}}}}
	m, err := Compile(spec, k)
	if err != nil {
		t.Fatal(err)
	}
	spec.Rules[0].Builders[0] = "b"
	k["force"] = false
	if !m.Decide(1, "force", "a").Allowed || m.Decide(2, "force", "a").Allowed {
		t.Error("matrix changed with its inputs")
	}
}

// FuzzCompile feeds arbitrary config values through Compile and Decide: a bad config must
// come back as Errors, never as a panic, and a compiled matrix must keep Buildbot's
// guarantees for commands no rule names.
func FuzzCompile(f *testing.F) {
	f.Add("force", "123", "docs-*", "g", "5", int64(123), "docs-en")
	f.Add("safe", "everyone", "", "", "", int64(1), "")
	f.Add("dangerous", "@g", "[", "g", "x", int64(5), "a")
	f.Add("/stop", "nobody", "*", "@g", "-1", int64(0), "\x00")
	f.Fuzz(func(t *testing.T, command, who, builder, group, member string, user int64, target string) {
		spec := Spec{
			Groups: []Group{{Name: group, Members: []string{member}, Line: 1}},
			Rules:  []Rule{{Commands: []string{command}, Who: []string{who}, Line: 2}},
		}
		if builder != "" {
			spec.Rules[0].Builders = []string{builder}
		}
		m, err := Compile(spec, known)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 || m != nil {
				t.Fatalf("Compile error %v (%T) with matrix %v", err, err, m)
			}
			return
		}
		for cmd, dangerous := range known {
			d := m.Decide(user, cmd, target)
			if !d.Allowed && d.Reason == "" {
				t.Errorf("Decide(%d, %q, %q) denied without a reason", user, cmd, target)
			}
			if cmd != command && command != AllSafe && command != AllDangerous && d.Allowed == dangerous {
				t.Errorf("Decide(%d, %q, %q) = %v although no rule names it", user, cmd, target, d.Allowed)
			}
			if d.Allowed && target != "" && !m.MayAny(user, cmd) {
				t.Errorf("allowed on %q but MayAny(%d, %q) = false", target, user, cmd)
			}
		}
	})
}

// TestREADMEExampleWithSlashes is the scoped example of the README's "Who may do what",
// with builder names that hold slashes: a deny on release-* must cover release-1.0/linux,
// and docs-* must cover docs-x/arm (issue 8, item 10).
func TestREADMEExampleWithSlashes(t *testing.T) {
	m := mustCompile(t, Spec{
		Groups: []Group{
			{Name: "release", Members: []string{"123456"}},
			{Name: "docs", Members: []string{"789012", "345678"}},
		},
		Rules: []Rule{
			{Commands: []string{"dangerous"}, Who: []string{"@release"}},
			{Commands: []string{"force"}, Who: []string{"@docs", "@release"}, Builders: []string{"docs-*"}},
			{Commands: []string{"force"}, Who: []string{"nobody"}, Builders: []string{"release-*"}},
		},
		NotifyAdminsOnly: true,
	})
	runChecks(t, m, []check{
		{123456, "force", "release-1.0/linux", false, "you may not use /force on release-1.0/linux"},
		{123456, "force", "release-1.0", false, "you may not use /force on release-1.0"},
		{123456, "stop", "release-1.0/linux", true, ""},
		{123456, "force", "main/linux", true, ""},
		{123456, "force", "docs-x/arm", true, ""},
		{789012, "force", "docs-x/arm", true, ""},
		{789012, "force", "docs-x", true, ""},
		{789012, "force", "www/docs-x", false, "you may force only docs-*"},
		{789012, "force", "release-1.0/linux", false, "you may force only docs-*"},
		{789012, "stop", "docs-x/arm", false, "you may not use /stop"},
	})
}
