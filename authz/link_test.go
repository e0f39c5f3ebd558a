package authz

import (
	"reflect"
	"testing"
)

func TestLinkIsDangerousAndNamed(t *testing.T) {
	k := knownReg()
	k[Link] = true
	m, err := Compile(Spec{
		Groups: []Group{{Name: "admins", Members: []string{"20"}, Line: 1}},
		Rules: []Rule{
			{Commands: []string{Link}, Who: []string{"10", "@admins"}, Line: 2},
			{Commands: []string{AllDangerous}, Who: []string{"40"}, Line: 3},
		},
		Registration: RegistrationSpec{AdminChat: -500},
	}, k)
	if err != nil {
		t.Fatal(err)
	}
	if !IsDangerous(Link) || !m.Dangerous(Link) {
		t.Error("link is not dangerous")
	}
	for user, want := range map[int64]bool{10: true, 20: true, 40: false, 99: false} {
		if got := m.MayLink(user); got != want {
			t.Errorf("MayLink(%d) = %v; want %v (a rule naming link replaces the dangerous one)", user, got, want)
		}
	}
	if got := m.Linkers(); !reflect.DeepEqual(got, []int64{10, 20}) {
		t.Errorf("Linkers() = %v; want [10 20]", got)
	}
	if !m.AnyoneMayLink() {
		t.Error("AnyoneMayLink() = false with two users allowed")
	}
	if d := Default(k); d.MayLink(10) || d.Linkers() != nil || d.AnyoneMayLink() {
		t.Error("without rules someone may link")
	}
}
