package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// The intake on several replicas: whichever replica stores an update, the one running the
// intake handles it, in update_id order within a chat. "Another replica" is a second
// store.Store on the same database that saves updates and hands them to nobody, as a
// replica's webhook does when it does not hold the intake.

// orderRecorder is a handler that answers /ping and records which updates it ran, per chat.
type orderRecorder struct {
	mu  sync.Mutex
	ran map[int64][]int64
}

func (o *orderRecorder) Handle(ctx context.Context, req commands.Request) (commands.Response, error) {
	o.mu.Lock()
	if o.ran == nil {
		o.ran = map[int64][]int64{}
	}
	o.ran[req.ChatID] = append(o.ran[req.ChatID], req.UpdateID)
	o.mu.Unlock()
	return commands.Say(fmt.Sprintf("pong %d", req.UpdateID)), nil
}

func (o *orderRecorder) order(chat int64) []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.ran[chat])
}

// runIntake runs an intake (no poller) until stop is called or the test ends, and waits
// until it read what was left and listens for notifications.
func runIntake(t *testing.T, h *harness, handler commands.Handler, opts IntakeOptions) (in *Intake, stop func()) {
	t.Helper()
	health := NewHealth(nil)
	opts.Health = health
	in = NewIntake(h.st, h.api, handler, func() string { return "herald_bot" }, opts, zerolog.New(zerolog.NewTestWriter(t)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = in.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Errorf("intake did not stop")
			}
		})
	}
	t.Cleanup(stop)
	waitFor(t, "the intake's start sweep", func() bool { ok, _ := health.Check(); return ok })
	waitFor(t, "the intake listening", func() bool { return listeners(t, h.st) == 1 })
	return in, stop
}

// listeners counts the sessions on the test's database listening for updates.
func listeners(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	err := st.Pool().QueryRow(context.Background(), `
		SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN "`+store.UpdatesChannel+`"'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// otherReplica is a second store on the test's database.
func otherReplica(t *testing.T, st *store.Store) *store.Store {
	t.Helper()
	other, err := store.Open(context.Background(), st.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	return other
}

// ping is a stored /ping from ann in chat.
func ping(id, chat int64) store.Update {
	kind := `"type":"supergroup","title":"Team"`
	if chat > 0 {
		kind = `"type":"private","first_name":"Ann"`
	}
	return storeUpdate(id, chat, fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":%d,
		"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":%d,%s},
		"text":"/ping","entities":[{"type":"bot_command","offset":0,"length":5}]}}`, id, id, time.Now().Unix(), chat, kind))
}

func save(t *testing.T, st *store.Store, ups ...store.Update) {
	t.Helper()
	if _, err := st.SaveUpdates(context.Background(), ups, 0); err != nil {
		t.Fatal(err)
	}
}

// TestIntakeHandlesWhatAnotherReplicaStored: an update stored by a replica that does not
// hold the intake is handled by the one that does within seconds: its notification says so.
// The sweep, which would find it too, runs once an hour here.
func TestIntakeHandlesWhatAnotherReplicaStored(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	h.start(t)
	rec := &orderRecorder{}
	runIntake(t, h, rec, IntakeOptions{SweepInterval: time.Hour})
	other := otherReplica(t, h.st)

	for i, id := range []int64{501, 502, 503} {
		start := time.Now()
		save(t, other, ping(id, ann.ID))
		msgs := waitMessages(t, h.tg, ann.ID, i+1)
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("update %d answered %s after another replica stored it; want within seconds", id, took.Round(time.Millisecond))
		}
		if want := fmt.Sprintf("pong %d", id); msgs[i].Text != want {
			t.Errorf("answer %q; want %q", msgs[i].Text, want)
		}
	}
	waitFor(t, "every update handled", func() bool { return pendingUpdates(t, h.st) == 0 })
}

// TestIntakeKeepsChatOrderAcrossReplicas: two updates of one chat stored by two replicas
// are handled in update_id order.
func TestIntakeKeepsChatOrderAcrossReplicas(t *testing.T) {
	// A gathering long enough that the second store lands in it on a busy machine.
	const gather = 500 * time.Millisecond

	// Committed the wrong way round (the later update first), close together: the
	// gathering reads both and hands them on in update_id order.
	t.Run("reverse commit order", func(t *testing.T) {
		h := newHarness(t, fastLimits(), fastOptions())
		h.start(t)
		rec := &orderRecorder{}
		runIntake(t, h, rec, IntakeOptions{SweepInterval: time.Hour, gather: gather})
		other := otherReplica(t, h.st)
		save(t, other, ping(602, group.ID))
		save(t, h.st, ping(601, group.ID))
		waitFor(t, "both handled", func() bool { return len(rec.order(group.ID)) == 2 })
		if got := rec.order(group.ID); !slices.Equal(got, []int64{601, 602}) {
			t.Errorf("handled %v; want [601 602]", got)
		}
	})

	// The usual race: another replica stored 701 (its notification is on its way, or in a
	// gathering), then this replica stores 702 and hands it to its own intake. Handed on at
	// once, 702 would be answered first; it waits for its own notification, which comes
	// after 701's.
	t.Run("a local update does not overtake another replica's", func(t *testing.T) {
		h := newHarness(t, fastLimits(), fastOptions())
		h.start(t)
		rec := &orderRecorder{}
		in, _ := runIntake(t, h, rec, IntakeOptions{SweepInterval: time.Hour, gather: gather})
		other := otherReplica(t, h.st)
		save(t, other, ping(701, group.ID))
		local := ping(702, group.ID)
		save(t, h.st, local)
		in.Submit(local)
		waitFor(t, "both handled", func() bool { return len(rec.order(group.ID)) == 2 })
		if got := rec.order(group.ID); !slices.Equal(got, []int64{701, 702}) {
			t.Errorf("handled %v; want [701 702]", got)
		}
		if msgs := waitMessages(t, h.tg, group.ID, 2); msgs[0].Text != "pong 701" || msgs[1].Text != "pong 702" {
			t.Errorf("answers %q, %q; want pong 701, then pong 702", msgs[0].Text, msgs[1].Text)
		}
	})
}

// TestIntakeTakenOverSweepsWhatWasLeft: an intake that stops (its process lost the role)
// leaves what it had not handled in Postgres; the next one (a new Intake, as a process makes
// when it takes the role) handles it at its start, and then hears new updates as before.
func TestIntakeTakenOverSweepsWhatWasLeft(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	h.start(t)
	rec := &orderRecorder{}
	_, stop := runIntake(t, h, rec, IntakeOptions{SweepInterval: time.Hour})
	save(t, h.st, ping(801, ann.ID))
	waitMessages(t, h.tg, ann.ID, 1)
	stop()
	waitFor(t, "the first intake's listener gone", func() bool { return listeners(t, h.st) == 0 })

	// Stored while no intake runs: nobody hears the notifications.
	save(t, otherReplica(t, h.st), ping(802, ann.ID), ping(803, ann.ID))
	runIntake(t, h, rec, IntakeOptions{SweepInterval: time.Hour})
	save(t, h.st, ping(804, ann.ID))
	msgs := waitMessages(t, h.tg, ann.ID, 4)
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	if want := "pong 801|pong 802|pong 803|pong 804"; strings.Join(texts, "|") != want {
		t.Errorf("answers %q; want %q", strings.Join(texts, "|"), want)
	}
	if got := rec.order(ann.ID); !slices.Equal(got, []int64{801, 802, 803, 804}) {
		t.Errorf("handled %v; want each once, in order", got)
	}
}

// TestIntakeSweepsWhenNotificationsMayBeLost: after its listening connection was back
// (store.Listen says so with an empty payload; store's TestListenReconnects shows when) the
// intake sweeps for what it missed instead of waiting for the periodic sweep, an hour here.
// The update is stored without a notification, as one sent while the listener was down.
func TestIntakeSweepsWhenNotificationsMayBeLost(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	h.start(t)
	rec := &orderRecorder{}
	in, _ := runIntake(t, h, rec, IntakeOptions{SweepInterval: time.Hour})
	u := ping(901, ann.ID)
	if _, err := h.st.Pool().Exec(context.Background(),
		`INSERT INTO updates (update_id, chat_id, payload) VALUES ($1, $2, $3)`, u.ID, u.ChatID, u.Payload); err != nil {
		t.Fatal(err)
	}
	in.heard("")
	if msgs := waitMessages(t, h.tg, ann.ID, 1); msgs[0].Text != "pong 901" {
		t.Errorf("answer %q; want pong 901", msgs[0].Text)
	}
}
