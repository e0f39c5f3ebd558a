package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// One herald follows two Buildbot masters at once: every event carries its connection's
// name, messages say which CI a build is on, and commands see both.
func TestE2ETwoMasters(t *testing.T) {
	m1 := buildbottest.Start(t, buildbottest.Options{})
	m2 := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	extra := fmt.Sprintf(`ci:
  - name: alpha
    type: buildbot
    url: %s
  - name: beta
    type: buildbot
    url: %s
chats:
  - id: %d
    events: [finished]
`, m1.URL(), m2.URL(), team.ID)
	h := newHerald(t, heraldOptions{tg: tg, extra: extra})
	h.start()

	n1 := waitRequest(t, m1, m1.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"}), true).Number
	n2 := waitRequest(t, m2, m2.Force(buildbottest.BuilderFail, map[string]any{"branch": "main"}), true).Number
	waitText(t, tg, team.ID, "alpha/pass", fmt.Sprintf("#%d", n1), "succeeded")
	waitText(t, tg, team.ID, "beta/fail", fmt.Sprintf("#%d", n2), "failed")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var alpha, beta int
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE conn = 'alpha'), count(*) FILTER (WHERE conn = 'beta') FROM builds`).Scan(&alpha, &beta); err != nil {
		t.Fatal(err)
	}
	if alpha != 1 || beta != 1 {
		t.Errorf("builds stored per connection: alpha %d, beta %d; want 1 and 1", alpha, beta)
	}

	tg.SendText(telegramtest.PrivateChat(alice), alice, "/last")
	waitText(t, tg, alice.ID, "alpha/pass", "beta/fail")
}
