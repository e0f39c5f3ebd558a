package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci/hook"
)

// readmeHookBlocks are the yaml blocks of the README's "Webhooks from any tool" and "Checks"
// that configure hooks, as written there.
func readmeHookBlocks(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	start, end := strings.Index(s, "## Webhooks from any tool"), strings.Index(s, "## Commands")
	if start < 0 || end < start {
		t.Fatal("the README has no section Webhooks from any tool before Commands")
	}
	var blocks []string
	for _, part := range strings.Split(s[start:end], "```yaml\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		if i := strings.Index(block, "hooks:\n"); i >= 0 {
			blocks = append(blocks, block[i:])
		}
	}
	return blocks
}

// The README's hooks load as they are written and render its samples as it says.
func TestReadmeHooks(t *testing.T) {
	blocks := readmeHookBlocks(t)
	if len(blocks) != 4 {
		t.Fatalf("found %d hook examples in the README, want 4", len(blocks))
	}
	env := testEnv(map[string]string{"ALLURE_HOOK_SECRET": "a-secret", "ALERTMANAGER_HOOK_SECRET": "b-secret", "MONITOR_SECRET": "c-secret"})
	rendered := map[string]string{}
	keys := map[string]string{} // the dedup key of each hook#example sample
	for i, b := range blocks {
		cfg, err := parseConfig("README-"+string(rune('a'+i))+".yaml", []byte("telegram:\n  token: \"123456:ABCdef_ghi-JKL\"\ndatabase:\n  url: postgres://h@localhost/h\n"+b), env)
		if err != nil {
			t.Fatalf("README example %d does not load:\n%v\n%s", i, err, b)
		}
		hooks, err := cfg.compileHooks(func() time.Time { return time.Date(2026, 12, 1, 12, 30, 0, 0, time.UTC) })
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hooks {
			for _, sample := range []string{"allure_launch_closed", "allure_defect_created", "allure_test_plan_created",
				"alertmanager_firing", "alertmanager_resolved", "alertmanager_firing_again", "monitor_critical"} {
				file := sample
				if sample == "alertmanager_firing_again" {
					file = "alertmanager_firing"
				}
				raw, err := os.ReadFile(filepath.Join("..", "..", "ci", "hook", "testdata", file+".json"))
				if err != nil {
					t.Fatal(err)
				}
				if sample == "alertmanager_firing_again" {
					// The same alert resolved and firing again: a new startsAt.
					raw = []byte(strings.Replace(string(raw), `"startsAt": "2026-12-01T12:00:00Z"`, `"startsAt": "2026-12-02T08:00:00Z"`, 1))
				}
				data, err := hook.Decode(raw)
				if err != nil {
					t.Fatal(err)
				}
				key := h.Name() + "#" + string(rune('a'+i)) + " " + sample
				if k, err := h.DedupKey("", data); err == nil && !h.IsCheck() {
					keys[key] = k
				}
				if h.IsCheck() {
					if ev, err := h.CheckEvent(data, "", time.Now()); err == nil {
						rendered[key] = ev.Build.Builder + " " + string(ev.Build.Result) + " " + ev.Build.StateText
					}
					continue
				}
				if ok, err := h.Filter(data); err != nil || !ok {
					continue
				}
				if msg, err := h.Message(data); err == nil {
					rendered[key] = msg
				}
			}
		}
	}
	for key, want := range map[string]string{
		"allure#b allure_launch_closed":     `🧪 qaqa: launch <b>Nightly regression &amp; smoke</b> closed in Checkout &lt;web&gt; · <a href="https://allure.example.org/launch/1741270605123">open</a>`,
		"allure#b allure_defect_created":    `🐞 qaqa: defect <a href="https://allure.example.org/project/7/defects/42">Payment form &lt;script&gt; not escaped</a> reported in Checkout &lt;web&gt;`,
		"allure#a allure_launch_closed":     `🧪 qaqa closed <b>Nightly regression &amp; smoke</b> in Checkout &lt;web&gt;: <a href="https://allure.example.org/launch/1741270605123">open</a>`,
		"alerts#c alertmanager_firing":      "🔥 <b>DiskFull</b> firing\n• db-1:9100: Disk /var is 97% full on db-1 (30m ago) <a href=\"http://prometheus.example.org:9090/graph?g0.expr=disk\">graph</a>",
		"allure#b allure_test_plan_created": `📋 qaqa: test plan <b>Release 2.4 &lt;rc&gt;</b> created in Checkout &lt;web&gt;`,
		"alerts#c alertmanager_resolved":    "✅ <b>DiskFull</b> resolved\n• db-1:9100: Disk /var is 97% full on db-1 (30m ago)",
		"monitor#d monitor_critical":        "db-backup failure backup failed: disk full",
	} {
		if got := rendered[key]; !strings.HasPrefix(got, want) {
			t.Errorf("%s renders\n%q\nwant it to start with\n%q", key, got, want)
		}
	}
	if got, ok := rendered["allure#a allure_defect_created"]; ok {
		t.Errorf("the first example's filter lets a defect through: %q", got)
	}
	// As the README says of repeats: Alertmanager's key tells a firing from its resolution
	// and from the next firing; the Allure examples key nothing (no variable names one
	// occurrence), so a defect closed twice is two messages.
	firing, resolved, again := keys["alerts#c alertmanager_firing"], keys["alerts#c alertmanager_resolved"], keys["alerts#c alertmanager_firing_again"]
	if firing == "" || firing == resolved || firing == again || resolved == again {
		t.Errorf("Alertmanager keys: firing %q, resolved %q, firing again %q; want three keys", firing, resolved, again)
	}
	for _, k := range []string{"allure#a allure_launch_closed", "allure#b allure_defect_created", "allure#b allure_launch_closed"} {
		if keys[k] != "" {
			t.Errorf("%s has the dedup key %q; the README's Allure examples key nothing", k, keys[k])
		}
	}
}
