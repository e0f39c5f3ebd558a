package bot

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/tghtml"
	"github.com/herald-ci/herald/store"
)

// TestJobTextsCut: a reminder and a digest of 300 broken builders are cut to what Telegram
// takes (its count: visible UTF-16 units), marked "…", with no tag left open.
func TestJobTextsCut(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var bs []store.Breakage
	for i := range 300 {
		b := ci.Build{Conn: "bb", ID: strconv.Itoa(i), Number: i, Builder: "builder-with-a-long-name-" + strconv.Itoa(i),
			Branch: "main", FinishedAt: now.Add(-time.Hour), Complete: true, Result: ci.ResultFailure,
			Owner: "Ann <ann@example.com>", URL: "https://ci.example/b/" + strconv.Itoa(i)}
		bs = append(bs, store.Breakage{Broke: b, Latest: b})
	}
	texts := map[string]string{
		"reminder": FormatReminder(store.Reminder{Breakages: bs}, now, false),
		"digest":   FormatDigest(store.Digest{From: now.Add(-24 * time.Hour), To: now, Broken: bs}, time.UTC, false),
	}
	for name, s := range texts {
		if n := tghtml.Visible(s); n > MaxMessageLength {
			t.Errorf("%s: %d visible units, over %d", name, n, MaxMessageLength)
		}
		if !strings.Contains(s, "…") {
			t.Errorf("%s: the cut is not marked", name)
		}
		if strings.Count(s, "<b>") != strings.Count(s, "</b>") || strings.Count(s, "<a ") != strings.Count(s, "</a>") ||
			strings.Count(s, "<code>") != strings.Count(s, "</code>") {
			t.Errorf("%s: a tag left open:\n%s", name, s[len(s)-300:])
		}
	}
}
