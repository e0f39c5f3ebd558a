package authz

import (
	"reflect"
	"strings"
	"testing"
)

// knownReg is herald's command set with the registration commands.
func knownReg() map[string]bool {
	k := map[string]bool{Approve: true, Invite: true, "start": false}
	for c, d := range known {
		k[c] = d
	}
	return k
}

func TestRegistrationDefaultsAreOpen(t *testing.T) {
	for name, m := range map[string]*Matrix{
		"Default":      Default(knownReg()),
		"empty spec":   mustCompileReg(t, Spec{}),
		"mode written": mustCompileReg(t, Spec{Registration: RegistrationSpec{Mode: "open"}}),
	} {
		t.Run(name, func(t *testing.T) {
			if got := m.Registration(); got != RegistrationOpen {
				t.Errorf("Registration() = %q, want open", got)
			}
			if m.AdminChat() != 0 || m.Approvers() != nil {
				t.Errorf("AdminChat %d, Approvers %v; want none", m.AdminChat(), m.Approvers())
			}
			for c, want := range map[string]bool{"start": true, "getid": true, "help": true, "status": false, "notify": false, "force": false} {
				if got := m.UnregisteredMay(c); got != want {
					t.Errorf("UnregisteredMay(%q) = %v, want %v", c, got, want)
				}
			}
			// approve and invite are dangerous: nobody may, unless a rule says so.
			for _, c := range []string{Approve, Invite} {
				if !m.Dangerous(c) || m.Decide(1, c, "").Allowed {
					t.Errorf("%s: dangerous %v, allowed for 1 %v; want dangerous and denied", c, m.Dangerous(c), m.Decide(1, c, "").Allowed)
				}
			}
		})
	}
}

func mustCompileReg(t *testing.T, spec Spec) *Matrix {
	t.Helper()
	m, err := Compile(spec, knownReg())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

func TestRegistrationWhoDecides(t *testing.T) {
	rules := []Rule{
		{Commands: []string{Approve}, Who: []string{"10", "@admins"}, Line: 1},
		{Commands: []string{Invite}, Who: []string{"30"}, Line: 2},
		{Commands: []string{AllDangerous}, Who: []string{"40"}, Line: 3},
	}
	groups := []Group{{Name: "admins", Members: []string{"20"}}}
	tests := []struct {
		name      string
		adminChat int64
		user      int64
		chat      int64
		approve   bool
		letsIn    bool
	}{
		{"approver anywhere", 0, 10, 10, true, true},
		{"approver by group", 0, 20, -5, true, true},
		{"inviter may not approve", 0, 30, 30, false, true},
		{"a rule naming approve outranks the dangerous class", 0, 40, 40, false, false},
		{"stranger", 0, 50, 50, false, false},
		{"stranger in the admin chat", -100, 50, -100, true, true},
		{"stranger elsewhere with an admin chat", -100, 50, -7, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustCompileReg(t, Spec{Groups: groups, Rules: rules,
				Registration: RegistrationSpec{Mode: RegistrationApproval, AdminChat: tt.adminChat}})
			if got := m.MayApprove(tt.user, tt.chat); got != tt.approve {
				t.Errorf("MayApprove(%d, %d) = %v, want %v", tt.user, tt.chat, got, tt.approve)
			}
			if got := m.LetsIn(tt.user, tt.chat); got != tt.letsIn {
				t.Errorf("LetsIn(%d, %d) = %v, want %v", tt.user, tt.chat, got, tt.letsIn)
			}
		})
	}
}

func TestApprovers(t *testing.T) {
	m := mustCompileReg(t, Spec{
		Groups: []Group{{Name: "admins", Members: []string{"20", "5"}}},
		Rules: []Rule{
			{Commands: []string{AllDangerous}, Who: []string{"40", "5"}, Line: 1},
			{Commands: []string{Approve}, Who: []string{"@admins", "10"}, Line: 2},
			{Commands: []string{"force"}, Who: []string{"60"}, Line: 3},
		},
		Registration: RegistrationSpec{Mode: RegistrationApproval}})
	if got, want := m.Approvers(), []int64{5, 10, 20}; !reflect.DeepEqual(got, want) {
		t.Errorf("Approvers() = %v, want %v", got, want)
	}
	// Without a rule naming approve, the dangerous class decides.
	m = mustCompileReg(t, Spec{Rules: []Rule{{Commands: []string{AllDangerous}, Who: []string{"40"}}},
		Registration: RegistrationSpec{Mode: RegistrationApproval}})
	if got, want := m.Approvers(), []int64{40}; !reflect.DeepEqual(got, want) {
		t.Errorf("Approvers() = %v, want %v", got, want)
	}
}

func TestUnregisteredList(t *testing.T) {
	m := mustCompileReg(t, Spec{Registration: RegistrationSpec{Mode: RegistrationInvite,
		Unregistered: []string{"getid", "version"}},
		Rules: []Rule{{Commands: []string{Invite}, Who: []string{"everyone"}}}})
	for c, want := range map[string]bool{"start": true, "getid": true, "version": true, "help": false, "status": false} {
		if got := m.UnregisteredMay(c); got != want {
			t.Errorf("UnregisteredMay(%q) = %v, want %v", c, got, want)
		}
	}
	// An empty list (written unregistered: []) leaves only /start.
	m = mustCompileReg(t, Spec{Registration: RegistrationSpec{Mode: RegistrationApproval, AdminChat: -1, Unregistered: []string{}}})
	if m.UnregisteredMay("getid") || !m.UnregisteredMay("start") {
		t.Error("unregistered: [] should leave /start alone")
	}
	if m.Registration() != RegistrationApproval || m.AdminChat() != -1 {
		t.Errorf("Registration %q, AdminChat %d", m.Registration(), m.AdminChat())
	}
}

func TestRegistrationCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{"unknown mode", Spec{Registration: RegistrationSpec{Mode: "closed", ModeLine: 3}},
			[]string{`line 3: registration must be open, approval or invite, not "closed"`}},
		{"approval reaches nobody", Spec{Registration: RegistrationSpec{Mode: RegistrationApproval, ModeLine: 4}},
			[]string{"line 4: registration: approval needs admin_chat, or a rule allowing approve to users by id (requests then go to their private chats): nobody would see a request"}},
		{"approval for everyone reaches nobody either", Spec{
			Rules:        []Rule{{Commands: []string{Approve}, Who: []string{"everyone"}}},
			Registration: RegistrationSpec{Mode: RegistrationApproval, ModeLine: 4}},
			[]string{"line 4: registration: approval needs admin_chat"}},
		{"invite without inviters", Spec{Registration: RegistrationSpec{Mode: RegistrationInvite, ModeLine: 2}},
			[]string{"line 2: registration: invite needs a rule allowing invite to someone: nobody could let a chat in"}},
		{"bad unregistered entries, all reported", Spec{Registration: RegistrationSpec{AdminChat: -1, Mode: RegistrationApproval,
			Unregistered: []string{"/getid", "frce", "force", "safe"}, UnregisteredLine: 9}},
			[]string{
				`line 9: unknown command "/getid" in unregistered (write command names without the slash)`,
				`line 9: unknown command "frce" in unregistered`,
				`line 9: unregistered chats cannot be given the dangerous command "force"`,
				`line 9: unregistered lists commands one by one, not "safe"`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.spec, knownReg())
			if err == nil || m != nil {
				t.Fatalf("Compile = %v, %v; want an error", m, err)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("errors:\n%s\nwant %d", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("error %d = %q, want %q", i, got[i], w)
				}
			}
		})
	}
}
