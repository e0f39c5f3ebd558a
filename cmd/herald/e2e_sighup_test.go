package main

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
)

// SIGHUP reloads the authz rules from the config file; a file with a problem keeps the rules
// in force and says why in the log.
func TestE2ESighupReloadsAuthz(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	rules := func(who string) string {
		return "authz:\n  rules:\n    - commands: [force]\n      allow: [" + who + "]\n"
	}
	h := newHerald(t, heraldOptions{tg: tg, extra: rules("111")})
	base, err := os.ReadFile(h.configPath)
	if err != nil {
		t.Fatal(err)
	}
	base = []byte(strings.TrimSuffix(string(base), rules("111")))
	h.start()

	bobChat := telegramtest.PrivateChat(bob)
	ask := func(n int) string {
		t.Helper()
		tg.SendText(bobChat, bob, "/force")
		return waitMessages(t, tg, bob.ID, n)[n-1].Text
	}
	if got := ask(1); !strings.Contains(got, "may not") {
		t.Fatalf("bob's /force before the reload = %q; want a refusal", got)
	}

	writeConfig := func(s string) {
		t.Helper()
		if err := os.WriteFile(h.configPath, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(string(base) + rules("222"))
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload to be logged", func() bool { return strings.Contains(h.logs.String(), "authz rules reloaded") })
	// Allowed past authz, bob hears that no CI offers him a builder (this herald has none).
	const allowed = "There is no builder you can force."
	if got := ask(2); got != allowed {
		t.Errorf("bob's /force after the reload = %q; want %q", got, allowed)
	}

	writeConfig(string(base) + rules("222") + "    - commands: [forse]\n      allow: [1]\n")
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bad file to be refused", func() bool { return strings.Contains(h.logs.String(), "keeping the authz rules in force") })
	if !strings.Contains(h.logs.String(), `unknown command \"forse\"`) {
		t.Errorf("the log does not say what is wrong with the new file")
	}
	if got := ask(3); got != allowed {
		t.Errorf("bob's /force after a bad reload = %q; want %q: the previous rules kept", got, allowed)
	}
}
