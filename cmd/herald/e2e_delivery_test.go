package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

var buildNum = regexp.MustCompile(`#(\d+)`)

// numbersIn lists the build numbers of the chat's messages, in the order the fake accepted them.
func numbersIn(msgs []telegramtest.Message) []int {
	var out []int
	for _, m := range msgs {
		if s := buildNum.FindStringSubmatch(m.Text); s != nil {
			n, _ := strconv.Atoi(s[1])
			out = append(out, n)
		}
	}
	return out
}

// Every subscribed chat gets every build's message exactly once, in order, while the fake Bot
// API enforces Telegram's limits and injects 429s, a 30-second outage, a blocked chat and a
// group migrated to a supergroup, and herald is SIGKILLed half way. The one message per chat
// that may be in flight at the kill may arrive twice, and only back to back.
func TestE2EDeliveryUnderFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about two minutes")
	}
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, telegramtest.DefaultLimits())

	var chats []int64
	for i := int64(1); i <= 20; i++ {
		chats = append(chats, 5000+i) // private chats
	}
	for i := int64(1); i <= 10; i++ {
		chats = append(chats, -1002000000000-i) // groups
	}
	const blocked = 5003
	migrated, migratedTo := chats[25], int64(-1009000000001)
	var yaml strings.Builder
	fmt.Fprintf(&yaml, "ci:\n  - name: main\n    type: buildbot\n    url: %s\n    poll_interval: 2s\nchats:\n", m.URL())
	for _, id := range chats {
		fmt.Fprintf(&yaml, "  - id: %d\n    events: [finished]\n", id)
	}
	h := newHerald(t, heraldOptions{tg: tg, extra: yaml.String()})
	h.start()

	const builds = 6
	var numbers []int
	build := func() {
		brid := m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"})
		numbers = append(numbers, waitRequest(t, m, brid, true).Number)
	}
	delivered := func(n int) int { // chats holding build n's message
		c := 0
		for _, id := range chats {
			for _, got := range numbersIn(tg.Messages(id)) {
				if got == n {
					c++
					break
				}
			}
		}
		return c
	}

	// Build 1 under 429s for a few chats.
	for _, id := range chats[:5] {
		tg.FailNext("sendMessage", id, telegramtest.TooManyRequests(2))
	}
	build()
	waitFor(t, "build 1 everywhere", func() bool { return delivered(numbers[0]) == len(chats) })

	// Build 2: one chat has blocked the bot, a group became a supergroup.
	tg.BlockChat(blocked)
	tg.MigrateChat(migrated, migratedTo)
	build()
	waitFor(t, "build 2 everywhere but the blocked chat", func() bool {
		return delivered(numbers[1]) >= len(chats)-2 && len(tg.Messages(migratedTo)) == 1
	})

	// Build 3, and herald is killed while it delivers.
	build()
	waitFor(t, "build 3 half delivered", func() bool { return delivered(numbers[2]) >= 5 })
	h.stop(syscall.SIGKILL)
	build() // build 4 finishes while herald is down
	h.start()

	// Builds 5 and 6 during a 30-second outage of the Bot API.
	tg.SetOutage(30 * time.Second)
	build()
	build()
	want := strings.Trim(fmt.Sprint(numbers), "[]")
	waitFor(t, "every build everywhere", func() bool {
		return delivered(numbers[builds-1]) >= len(chats)-2 && len(numbersIn(tg.Messages(migratedTo))) >= builds-1
	})
	time.Sleep(3 * time.Second) // anything duplicated would be through by now

	for _, id := range chats {
		got := numbersIn(tg.Messages(id))
		switch id {
		case blocked:
			if fmt.Sprint(got) != fmt.Sprint(numbers[:1]) {
				t.Errorf("blocked chat %d got %v; want only build %d from before the block", id, got, numbers[0])
			}
			continue
		case migrated:
			got = append(got, numbersIn(tg.Messages(migratedTo))...)
		}
		if dedup := dropAdjacentRepeat(got, 1); strings.Trim(fmt.Sprint(dedup), "[]") != want {
			t.Errorf("chat %d got builds %v; want %s, each once and in order (one repeat allowed across the kill)", id, got, want)
		}
	}
	t.Logf("builds %v; chat %d got %v; migrated group got %v then %v; stats %+v", numbers, chats[0],
		numbersIn(tg.Messages(chats[0])), numbersIn(tg.Messages(migrated)), numbersIn(tg.Messages(migratedTo)), tg.Stats())
	if s := tg.Stats(); s.RateLimited > 5 {
		t.Errorf("herald provoked %d 429s beyond the 5 injected", s.RateLimited-5)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var paused bool
	if err := conn.QueryRow(ctx, `SELECT paused_at IS NOT NULL FROM chats WHERE id = $1`, blocked).Scan(&paused); err != nil || !paused {
		t.Errorf("blocked chat not paused: %v %v", paused, err)
	}
	var oldSubs, newSubs int
	_ = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE chat_id = $1), count(*) FILTER (WHERE chat_id = $2) FROM subscriptions`, migrated, migratedTo).Scan(&oldSubs, &newSubs)
	if oldSubs != 0 || newSubs != 1 {
		t.Errorf("subscriptions after migration: old chat %d, new chat %d; want 0 and 1", oldSubs, newSubs)
	}
}

// dropAdjacentRepeat removes up to max values equal to the one before them.
func dropAdjacentRepeat(xs []int, max int) []int {
	var out []int
	for i, x := range xs {
		if i > 0 && x == xs[i-1] && max > 0 {
			max--
			continue
		}
		out = append(out, x)
	}
	return out
}
