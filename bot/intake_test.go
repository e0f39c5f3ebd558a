package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// The intake's tests run it the way serve does: the fake Bot API, a poller, the intake and a
// sender on a database of the test's own; handlers are fakes.

// lockedBuffer collects log output while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// handlerMap routes commands to functions; anything else is answered "?".
type handlerMap map[string]func(ctx context.Context, req commands.Request) (commands.Response, error)

func (m handlerMap) Handle(ctx context.Context, req commands.Request) (commands.Response, error) {
	if f := m[req.Command]; f != nil {
		return f(ctx, req)
	}
	return commands.Say("?"), nil
}

type intakeRig struct {
	*harness
	in   *Intake
	logs *lockedBuffer
}

// startIntake runs a sender, an intake with handler and opts, and a poller until the test ends.
func startIntake(t *testing.T, h *harness, handler commands.Handler, opts IntakeOptions) *intakeRig {
	t.Helper()
	logs := &lockedBuffer{}
	log := zerolog.New(zerolog.MultiLevelWriter(logs, zerolog.NewTestWriter(t)))
	h.start(t)
	in := NewIntake(h.st, h.api, handler, func() string { return "herald_bot" }, opts, log)
	poller := NewPoller(h.st, h.api, in, h.tg.URL(), time.Second, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = in.Run(ctx); done <- struct{}{} }()
	go func() { _ = poller.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return &intakeRig{harness: h, in: in, logs: logs}
}

// seen is the text a user reads: the fake parses the bot's HTML as Telegram does.
func seen(t *testing.T, m telegramtest.Message) string {
	t.Helper()
	if m.ParseMode != "HTML" {
		return m.Text
	}
	plain, _, err := telegramtest.ParseHTML(m.Text)
	if err != nil {
		t.Fatalf("message %q is not valid HTML: %v", m.Text, err)
	}
	return plain
}

func pendingUpdates(t *testing.T, st *store.Store) int {
	t.Helper()
	ups, err := st.PendingUpdates(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return len(ups)
}

var (
	ann   = telegramtest.User{ID: 42, FirstName: "Ann", Username: "ann"}
	bob   = telegramtest.User{ID: 43, FirstName: "Bob", Username: "bob"}
	group = telegramtest.Chat{ID: -1001, Type: "supergroup", Title: "Team"}
)

// TestBusyChatDoesNotStallOthers is item 5 of issue 8: one group sends 100 /status to a CI
// that does not answer, and a private /getid is answered at once anyway: the group's queue
// is its own, the poller is never held up by it, and what does not fit in memory waits in
// Postgres. When the CI answers again, the group gets all 100 answers, in order.
func TestBusyChatDoesNotStallOthers(t *testing.T) {
	release := make(chan struct{})
	handler := handlerMap{
		"status": func(ctx context.Context, req commands.Request) (commands.Response, error) {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return commands.Say("status " + strings.Join(req.Args, " ")), nil
		},
		"getid": func(ctx context.Context, req commands.Request) (commands.Response, error) {
			return commands.Say(fmt.Sprintf("id %d", req.UserID)), nil
		},
	}
	h := newHarness(t, fastLimits(), fastOptions())
	// The rate limit would drop most of the flood; this is about queueing, so it is off.
	// A small queue makes most of the group's updates wait in Postgres.
	r := startIntake(t, h, handler, IntakeOptions{Workers: 2, QueueSize: 10,
		UserRate: RateLimit{Burst: -1}, ChatRate: RateLimit{Burst: -1}})

	for i := 1; i <= 100; i++ {
		r.tg.SendText(group, ann, fmt.Sprintf("/status %d", i))
	}
	waitFor(t, "the poller to fetch the group's updates", func() bool { return r.tg.Pending() == 0 })
	start := time.Now()
	r.tg.SendText(telegramtest.PrivateChat(bob), bob, "/getid")
	msgs := waitMessages(t, r.tg, bob.ID, 1)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("private /getid answered after %s behind the group's 100 /status; want within a second or two", took)
	}
	if msgs[0].Text != "id 43" {
		t.Errorf("private answer %q", msgs[0].Text)
	}

	close(release)
	got := waitMessages(t, r.tg, group.ID, 100)
	for i, m := range got {
		if want := fmt.Sprintf("status %d", i+1); m.Text != want {
			t.Fatalf("group message %d is %q, want %q (order kept in the chat)", i, m.Text, want)
		}
	}
	waitFor(t, "every update handled", func() bool { return pendingUpdates(t, r.st) == 0 })
	if n := len(r.tg.Messages(group.ID)); n != 100 {
		t.Errorf("group got %d messages, want 100 (each command answered once)", n)
	}
}

// newHarnessAt is newHarness with the fake Bot API on clock: the dates of the messages it
// sends, which the rate limit charges by.
func newHarnessAt(t *testing.T, clock func() time.Time) *harness {
	t.Helper()
	h := newHarness(t, fastLimits(), fastOptions())
	h.tg = telegramtest.New(telegramtest.Options{Token: testToken, Limits: fastLimits(), Now: clock})
	t.Cleanup(h.tg.Close)
	api, err := tgbot.New(testToken, tgbot.WithServerURL(h.tg.URL()), tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(time.Second, &http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatalf("tgbot.New: %v", err)
	}
	h.api = api
	return h
}

// settableClock is a clock a test moves by hand.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestCommandRateLimit is the rate limit of item 5: past a person's burst, commands are not
// run and not queued; the first one over is answered "slow down", the rest stay silent, and
// all are marked handled. Another person in the same chat is not held to the first one's
// limit, and once time refills the bucket commands run again (and a new streak is told).
func TestCommandRateLimit(t *testing.T) {
	var ran atomic.Int32
	handler := handlerMap{"status": func(ctx context.Context, req commands.Request) (commands.Response, error) {
		ran.Add(1)
		return commands.Say("status " + strings.Join(req.Args, " ")), nil
	}}
	clock := &settableClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	h := newHarnessAt(t, clock.Now) // messages are dated by the fake's clock, and charged then
	r := startIntake(t, h, handler, IntakeOptions{Now: clock.Now,
		UserRate: RateLimit{Burst: 3, Every: time.Minute}, ChatRate: RateLimit{Burst: 100, Every: time.Second}})

	for i := 1; i <= 10; i++ {
		r.tg.SendText(group, ann, fmt.Sprintf("/status %d", i))
	}
	r.tg.SendText(group, bob, "/status bob")
	waitFor(t, "every update handled", func() bool { return r.tg.Pending() == 0 && pendingUpdates(t, r.st) == 0 })
	waitFor(t, "empty outbox", outboxEmpty(t, r.st))
	// The answers in order; "slow down" comes at once, not after the commands that ran.
	var answers, slow []string
	for _, m := range r.tg.Messages(group.ID) {
		if text := seen(t, m); strings.HasPrefix(text, "Slow down") {
			slow = append(slow, text)
		} else {
			answers = append(answers, text)
		}
	}
	if want := []string{"status 1", "status 2", "status 3", "status bob"}; !slices.Equal(answers, want) {
		t.Errorf("group got answers %q, want %q", answers, want)
	}
	if len(slow) != 1 || slow[0] != "Slow down: at most 3 commands at once, then one every 1m0s, for each person. I am ignoring your commands for 1m0s." {
		t.Errorf("group was told %q; want one slow down", slow)
	}
	if n := ran.Load(); n != 4 {
		t.Errorf("handler ran %d times, want 4 (the dropped commands are not run)", n)
	}

	clock.Advance(time.Minute)
	r.tg.SendText(group, ann, "/status 11")
	r.tg.SendText(group, ann, "/status 12")
	waitFor(t, "two more messages", func() bool { return len(r.tg.Messages(group.ID)) == 7 })
	waitFor(t, "every update handled", func() bool { return pendingUpdates(t, r.st) == 0 })
	var after []string
	for _, m := range r.tg.Messages(group.ID)[5:] {
		after = append(after, seen(t, m))
	}
	slices.Sort(after)
	if len(after) != 2 || !strings.HasPrefix(after[0], "Slow down") || after[1] != "status 11" {
		t.Errorf("after a minute: %q; want an answer, and slow down again", after)
	}
}

// TestHandlerBudget is item 4 on the intake's side: a handler runs under its budget, and what
// it returns after using all of it (the CI did not answer) is still stored and sent; one that
// fails for lack of time, or never returns, leaves the user told that it took too long; and
// the chat goes on to its next command.
func TestHandlerBudget(t *testing.T) {
	never := make(chan struct{})
	defer close(never)
	handler := handlerMap{
		"slow": func(ctx context.Context, req commands.Request) (commands.Response, error) {
			<-ctx.Done()
			// On a busy machine the handler returns a moment after its budget ended: its
			// answer must still be the one shown (the slack it is waited for is longer).
			time.Sleep(300 * time.Millisecond)
			return commands.Say("main: the CI did not answer in 15s."), nil
		},
		"hang": func(ctx context.Context, req commands.Request) (commands.Response, error) {
			<-ctx.Done()
			return commands.Response{}, fmt.Errorf("fake CI: %w", ctx.Err())
		},
		"deaf": func(ctx context.Context, req commands.Request) (commands.Response, error) {
			<-never // ignores its context
			return commands.Say("too late"), nil
		},
		"ping": func(ctx context.Context, req commands.Request) (commands.Response, error) {
			return commands.Say("pong"), nil
		},
	}
	h := newHarness(t, fastLimits(), fastOptions())
	// The slack is a tenth of the budget by default (50ms here): a test on a shared machine
	// cannot count on that, so it waits longer for a handler that ignores its context.
	r := startIntake(t, h, handler, IntakeOptions{HandlerBudget: 500 * time.Millisecond, slack: 2 * time.Second})
	chat := telegramtest.PrivateChat(ann)
	for _, c := range []string{"/slow", "/hang", "/deaf", "/ping"} {
		r.tg.SendText(chat, ann, c)
	}
	msgs := waitMessages(t, r.tg, ann.ID, 4)
	want := []string{"main: the CI did not answer in 15s.",
		"Sorry, that took too long: I gave up after 500ms. The CI may be slow or not answering; try again later.",
		"Sorry, that took too long: I gave up after 500ms. The CI may be slow or not answering; try again later.",
		"pong"}
	for i, m := range msgs {
		if seen(t, m) != want[i] {
			t.Errorf("answer %d = %q, want %q", i, seen(t, m), want[i])
		}
	}
	waitFor(t, "every update handled", func() bool { return pendingUpdates(t, r.st) == 0 })
}

// TestUserErrorShownAsIs is item 14's double escaping: a user error's message is plain text,
// escaped once by the transport, so the user reads "<b>" once, not "&lt;b&gt;".
func TestUserErrorShownAsIs(t *testing.T) {
	handler := handlerMap{"notify": func(ctx context.Context, req commands.Request) (commands.Response, error) {
		return commands.Response{}, commands.Userf("Unknown event %s.", req.Args[1])
	}}
	h := newHarness(t, fastLimits(), fastOptions())
	r := startIntake(t, h, handler, IntakeOptions{})
	r.tg.SendText(telegramtest.PrivateChat(ann), ann, "/notify on <b>")
	msgs := waitMessages(t, r.tg, ann.ID, 1)
	if got := seen(t, msgs[0]); got != "Unknown event <b>." {
		t.Errorf("the user reads %q, want %q", got, "Unknown event <b>.")
	}
}

// TestBacklogChargedBySendTime is the rate limit after a restart or an outage: commands that
// waited in Telegram or in Postgres while herald was down are read all at once, but they are
// charged at the time their users sent them. A group's 25 commands sent over an hour all
// run; 25 sent within one second are still a burst, and only the chat's burst runs.
func TestBacklogChargedBySendTime(t *testing.T) {
	var ran atomic.Int32
	handler := handlerMap{"status": func(ctx context.Context, req commands.Request) (commands.Response, error) {
		ran.Add(1)
		return commands.Say("ok"), nil
	}}
	h := newHarness(t, fastLimits(), fastOptions())
	save := func(id int64, chat int64, user int64, date int64) {
		t.Helper()
		raw := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":%d,"from":{"id":%d,"is_bot":false,"first_name":"U"},
		"chat":{"id":%d,"type":"supergroup","title":"Team"},"text":"/status","entities":[{"type":"bot_command","offset":0,"length":7}]}}`,
			id, id, date, user, chat)
		if err := h.st.SaveUpdate(context.Background(), storeUpdate(id, chat, raw)); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour).Unix()
	for i := range 25 {
		save(int64(1000+i), -1001, int64(500+i), hourAgo+int64(i)*150) // one every 2.5 minutes
		save(int64(2000+i), -1002, int64(600+i), hourAgo)              // all in one second
	}
	r := startIntake(t, h, handler, IntakeOptions{}) // the default limits: 20 a chat, then one every 3s
	waitFor(t, "every update handled", func() bool { return pendingUpdates(t, r.st) == 0 })
	waitFor(t, "empty outbox", outboxEmpty(t, r.st))
	count := func(chat int64) (answers, slow int) {
		for _, m := range r.tg.Messages(chat) {
			if strings.HasPrefix(seen(t, m), "Slow down") {
				slow++
			} else {
				answers++
			}
		}
		return answers, slow
	}
	if a, s := count(-1001); a != 25 || s != 0 {
		t.Errorf("the group whose commands came over an hour got %d answers and %d slow downs; want 25 and none", a, s)
	}
	if a, s := count(-1002); a != DefaultChatRate.Burst || s != 1 {
		t.Errorf("the group whose commands came in one second got %d answers and %d slow downs; want %d and 1", a, s, DefaultChatRate.Burst)
	}
	if n := ran.Load(); n != 25+int32(DefaultChatRate.Burst) {
		t.Errorf("handler ran %d times, want %d", n, 25+DefaultChatRate.Burst)
	}
}

func storeUpdate(id, chat int64, raw string) store.Update {
	return store.Update{ID: id, ChatID: chat, Payload: []byte(raw)}
}

// TestOneReadingForLimitAndHandler: what the rate limit charges and what the handler gets
// come from the one reading of the update (readUpdate), so they cannot disagree: a command
// counts against its person, an anonymous admin's against the group, a button press against
// whoever pressed; chatter, commands for another bot and forwarded channel posts do not count
// and a message is charged at its date.
func TestOneReadingForLimitAndHandler(t *testing.T) {
	in := &Intake{username: func() string { return "herald_bot" }}
	msg := func(from, extra string) string {
		return `{"update_id":5,"message":{"message_id":1,"date":1767000000,` + from + `"chat":{"id":-1001,"type":"supergroup","title":"Team"}` + extra + `}}`
	}
	const cmd = `,"text":"/status x","entities":[{"type":"bot_command","offset":0,"length":7}]`
	person := `"from":{"id":42,"is_bot":false,"first_name":"Ann"},`
	for _, tt := range []struct {
		name    string
		raw     string
		asks    bool
		counts  bool
		sender  int64
		command string
	}{
		{"a person's command", msg(person, cmd), true, true, 42, "status"},
		{"chatter", msg(person, `,"text":"hello"`), true, false, 42, ""},
		{"another bot's command", msg(person, `,"text":"/status@other_bot","entities":[{"type":"bot_command","offset":0,"length":17}]`), false, false, 42, ""},
		{"an anonymous admin", msg(`"from":{"id":1087968824,"is_bot":true,"first_name":"Group"},"sender_chat":{"id":-1001,"type":"supergroup","title":"Team"},`, cmd), true, true, -1001, "status"},
		{"a forwarded channel post", msg(`"from":{"id":777000,"is_bot":false,"first_name":"Telegram"},"is_automatic_forward":true,`, cmd), false, false, 777000, ""},
		{"a button press", `{"update_id":5,"callback_query":{"id":"q1","from":{"id":43,"is_bot":false,"first_name":"Bob"},"data":"k",
			"message":{"message_id":3,"date":1767000000,"chat":{"id":-1001,"type":"supergroup","title":"Team"}}}}`, true, true, 43, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rd := in.readUpdate(storeUpdate(5, -1001, tt.raw))
			if rd.err != nil {
				t.Fatal(rd.err)
			}
			if rd.asks != tt.asks || rd.counts != tt.counts || rd.req.Command != tt.command || rd.req.ChatID != -1001 {
				t.Errorf("asks %v counts %v command %q chat %d; want %v %v %q -1001", rd.asks, rd.counts, rd.req.Command, rd.req.ChatID, tt.asks, tt.counts, tt.command)
			}
			if tt.counts && rd.sender != tt.sender {
				t.Errorf("counts against %d, want %d", rd.sender, tt.sender)
			}
			if rd.upd.Message != nil && !rd.sentAt.Equal(time.Unix(1767000000, 0)) {
				t.Errorf("sent at %v, want the message's date", rd.sentAt)
			}
			if rd.upd.CallbackQuery != nil && (!rd.sentAt.IsZero() || rd.req.Button == nil || rd.req.Button.QueryID != "q1") {
				t.Errorf("button press: sent at %v, button %+v; want no date (charged on arrival) and its query id", rd.sentAt, rd.req.Button)
			}
		})
	}
}

// TestNulInChatNameAnswered is the update handled in memory being the one stored: a chat
// whose name holds \u0000 (jsonb and text columns refuse NUL) used to be stored cleaned but
// handled raw, so saving the chat failed and the command was skipped in silence. It is
// cleaned once, before both, and answered.
func TestNulInChatNameAnswered(t *testing.T) {
	handler := handlerMap{"ping": func(ctx context.Context, req commands.Request) (commands.Response, error) {
		return commands.Say("pong"), nil
	}}
	h := newHarness(t, fastLimits(), fastOptions())
	r := startIntake(t, h, handler, IntakeOptions{})
	r.tg.SendRawUpdate("message", json.RawMessage(`{"message_id":1,"date":1767000000,"from":{"id":42,"is_bot":false,"first_name":"A\u0000B"},
		"chat":{"id":42,"type":"private","first_name":"A\u0000B"},"text":"/ping","entities":[{"type":"bot_command","offset":0,"length":5}]}`))
	msgs := waitMessages(t, r.tg, 42, 1)
	if msgs[0].Text != "pong" {
		t.Errorf("answer %q, want pong", msgs[0].Text)
	}
	waitFor(t, "every update handled", func() bool { return pendingUpdates(t, r.st) == 0 })
	chat, err := r.st.ChatByID(context.Background(), 42)
	if err != nil || chat.Title != "A\ufffdB" {
		t.Errorf("chat stored as %+v, %v; want title A\ufffdB", chat, err)
	}
}

// TestRefusedUpdateIsAnswered: an update Postgres refuses (a data error that no retry
// fixes) is marked handled so its chat is not held up, and its chat is told "internal
// error" rather than left in silence.
func TestRefusedUpdateIsAnswered(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	health := NewHealth(time.Now)
	r := startIntake(t, h, handlerMap{}, IntakeOptions{Health: health})
	// The intake's first sweep reads every stored update at once: wait for it to be done,
	// or it may find the update below and answer it itself.
	waitFor(t, "the intake's first sweep", func() bool { ready, _ := health.Check(); return ready })
	raw := `{"update_id":31,"message":{"message_id":9,"date":1767000000,"from":{"id":42,"is_bot":false,"first_name":"Ann"},
		"chat":{"id":42,"type":"private","first_name":"Ann"},"text":"/ping","entities":[{"type":"bot_command","offset":0,"length":5}]}}`
	u := storeUpdate(31, 42, raw)
	// Stored behind the intake's back (its sweep runs only every minute), then refused.
	if err := r.st.SaveUpdate(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	it := &intakeItem{u: u, read: r.in.readUpdate(u)}
	refused := fmt.Errorf("store: save chat: %w", &pgconn.PgError{Code: "22021", Message: "invalid byte sequence"})
	if err := r.in.permanent(context.Background(), it, refused); err != nil {
		t.Fatalf("permanent: %v", err)
	}
	msgs := waitMessages(t, r.tg, 42, 1)
	if got := seen(t, msgs[0]); !strings.Contains(got, "internal error") {
		t.Errorf("the user reads %q, want an internal error", got)
	}
	if pendingUpdates(t, r.st) != 0 {
		t.Errorf("the refused update is still pending")
	}
}
