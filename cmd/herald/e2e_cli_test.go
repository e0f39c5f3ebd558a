package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func runBin(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(heraldBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	default:
		t.Fatal(err)
		return "", -1
	}
}

func TestE2ECheckConfig(t *testing.T) {
	out, code := runBin(t, nil, "check-config", "testdata/config/misspelt.yaml")
	if code != 1 || !strings.Contains(out, `testdata/config/misspelt.yaml:3: telegram: unknown key "tokn"`) {
		t.Errorf("check-config on a bad file: exit %d, output:\n%s", code, out)
	}
	out, code = runBin(t, []string{"HERALD_TEST_TOKEN=" + testToken}, "check-config", "testdata/config/valid.yaml")
	if code != 0 || strings.Contains(out, testToken) {
		t.Errorf("check-config on a good file: exit %d, output:\n%s", code, out)
	}
	if out, code := runBin(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "herald ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	if _, code := runBin(t, nil, "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d; want 2", code)
	}
}

// serve with a config problem fails at start with the problem, never the token.
func TestE2EServeRefusesBadConfig(t *testing.T) {
	out, code := runBin(t, []string{"TELEGRAM_BOT_TOKEN=" + testToken}, "--config", "testdata/config/wrong_type.yaml", "serve")
	if code != 1 || !strings.Contains(out, "wrong_type.yaml:3: telegram.poll_timeout") || strings.Contains(out, testToken) {
		t.Errorf("serve with a bad config: exit %d, output:\n%s", code, out)
	}
}

func TestE2EMigrateAndReady(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	if out, code := runBin(t, h.env[len(h.env)-2:], "--config", h.configPath, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	h.start()
	// Ready once the poller reached Telegram; a probe is asked again until then.
	waitFor(t, "/readyz 200 with Postgres and the Bot API up", func() bool { return readyz(t, h.addr) == http.StatusOK })
	// Probes are answered from the last contact: none of them calls Telegram.
	getMe := tg.Calls("getMe")
	for range 20 {
		if code := readyz(t, h.addr); code != http.StatusOK {
			t.Fatalf("/readyz = %d; want 200", code)
		}
	}
	if n := tg.Calls("getMe") - getMe; n != 0 {
		t.Errorf("20 probes made %d getMe calls; want none", n)
	}
	tg.SetOutage(60e9)
	waitFor(t, "/readyz 503 during a Bot API outage", func() bool { return readyz(t, h.addr) == http.StatusServiceUnavailable })
	tg.SetOutage(0)
	waitFor(t, "/readyz 200 after the outage", func() bool { return readyz(t, h.addr) == http.StatusOK })
	resp, err := http.Get("http://" + h.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/metrics = %d", resp.StatusCode)
	}
}

func readyz(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// check-config names what is wrong with a misplaced secret without showing it.
func TestE2ECheckConfigHidesSecrets(t *testing.T) {
	out, code := runBin(t, nil, "check-config", "testdata/config/secrets_misplaced.yaml")
	if code != 1 || !strings.Contains(out, "secrets_misplaced.yaml:4: telegram.poll_timeout: the value is not a duration") {
		t.Fatalf("check-config: exit %d, output:\n%s", code, out)
	}
	for _, secret := range []string{"MODE-secret", "TIMEOUT-secret", "LIMIT-secret", "WEBHOOK-secret", "DB-secret", "AUTH-secret", "BEARER-secret", "CI-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("check-config shows %s...:\n%s", secret, out)
		}
	}
}

// Flags after the subcommand are honoured, and an unknown one is refused by name.
func TestE2EFlagsAfterTheCommand(t *testing.T) {
	out, code := runBin(t, []string{"TELEGRAM_BOT_TOKEN=" + testToken}, "serve", "--config", "testdata/config/wrong_type.yaml")
	if code != 1 || !strings.Contains(out, "wrong_type.yaml:3: telegram.poll_timeout") {
		t.Errorf("serve --config FILE: exit %d, output:\n%s", code, out)
	}
	out, code = runBin(t, nil, "serve", "--no-such-flag")
	if code != 2 || out != "herald: flag provided but not defined: -no-such-flag\nRun \"herald -h\" for the commands and flags.\n" {
		t.Errorf("serve --no-such-flag: exit %d, output:\n%s", code, out)
	}
}
