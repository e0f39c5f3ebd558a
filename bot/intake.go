package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// Intake handles stored updates: per-chat queues (see intake_queue.go) served by a fixed
// number of workers, so commands in one chat are answered in order while chats proceed in
// parallel. Every update reaching the intake is already in Postgres; handling it and storing
// its replies commit together, so a crash neither loses nor repeats a command.
type Intake struct {
	st       *store.Store
	api      *tgbot.Bot
	handler  commands.Handler
	username func() string
	log      zerolog.Logger
	opts     IntakeOptions
	limiter  *commandLimiter
	wg       sync.WaitGroup

	mu     sync.Mutex
	cond   *sync.Cond
	chats  map[queueKey]*chatQueue
	known  map[int64]bool // update ids in memory, queued or being handled
	recent *recentIDs     // update ids handled lately
	ready  []queueKey     // queues with work and no worker, in turn order

	// What reaches it from Postgres' notifications (intake_listen.go).
	held     map[int64]heldUpdate // submitted here, waiting for their notification
	noticed  []int64              // ids notified and not taken yet
	sweepAll bool                 // something may have been missed: sweep everything unhandled
	wake     chan struct{}
}

// IntakeOptions configure an Intake. Zero values take the defaults.
type IntakeOptions struct {
	Workers int // chats handled in parallel; default 8
	// Grace is how long a handler in flight may go on after shutdown starts; default 20s.
	Grace time.Duration
	// HandlerBudget is how long one handler may take; default commands.HandlerBudget, longer
	// than the CI calls a handler makes, so a slow CI ends in the handler's own answer.
	HandlerBudget time.Duration
	// CommitTimeout bounds storing the reply and the handled mark, on a context of its own
	// so a handler that used its whole budget still gets its answer stored; default 10s.
	CommitTimeout time.Duration
	// QueueSize is how many updates of one chat wait in memory; more wait in Postgres only
	// and are read back when the chat caught up. Default 100.
	QueueSize int
	// UserRate and ChatRate limit commands (and button presses) per sender and per group;
	// defaults DefaultUserRate and DefaultChatRate.
	UserRate, ChatRate RateLimit
	// RetryMin and RetryMax bound the backoff between tries of an update whose handling
	// failed (the database went away); defaults 500ms and 30s.
	RetryMin, RetryMax time.Duration
	// SweepInterval is how often stored updates that are not handled and not in memory are
	// looked for (and how old they must be); default 1m.
	SweepInterval time.Duration
	// Now is the rate limit's clock for button presses, which carry no date (a message is
	// charged at its own date); default time.Now.
	Now func() time.Time
	// Forward, if set, gives the body to relay for a request (forward: in the config), or
	// nil: it is stored in the transaction that marks the update handled, so the relay is
	// neither lost nor doubled (bot/actions sends it).
	Forward func(req commands.Request) []byte
	// Health, if set, hears as part "intake" when the intake has read what a previous run
	// left unhandled: until then herald is not ready.
	Health *Health

	// slack is how long a handler that ignores its context is waited for past its budget;
	// default a tenth of the budget, at most 5s. Tests on a busy machine make it longer.
	slack time.Duration
	// gather is how long notifications are gathered before what they name is read, in one
	// query; default 5ms. holdMax is how long an update Submit passed waits for its
	// notification before it is taken without; default 2s (see intake_listen.go).
	gather, holdMax time.Duration
}

func (o IntakeOptions) withDefaults() IntakeOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 100
	}
	def(&o.Grace, 20*time.Second)
	def(&o.HandlerBudget, commands.HandlerBudget)
	def(&o.CommitTimeout, 10*time.Second)
	def(&o.RetryMin, retryMin)
	def(&o.RetryMax, retryMax)
	def(&o.SweepInterval, time.Minute)
	def(&o.slack, min(o.HandlerBudget/10, 5*time.Second))
	def(&o.gather, 5*time.Millisecond)
	def(&o.holdMax, 2*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// NewIntake returns an intake handing requests to handler. username gives herald's bot
// username (learnt at start) for "/cmd@name" parsing.
func NewIntake(st *store.Store, api *tgbot.Bot, handler commands.Handler, username func() string, opts IntakeOptions, log zerolog.Logger) *Intake {
	opts = opts.withDefaults()
	in := &Intake{st: st, api: api, handler: handler, username: username, log: log, opts: opts,
		limiter: newCommandLimiter(opts.UserRate, opts.ChatRate, opts.Now),
		chats:   map[queueKey]*chatQueue{}, known: map[int64]bool{},
		recent: newRecentIDs(4096), held: map[int64]heldUpdate{}, wake: make(chan struct{}, 1)}
	in.cond = sync.NewCond(&in.mu)
	opts.Health.ExpectStart(healthIntake)
	return in
}

const healthIntake = "intake"

// Run handles what a previous run (or the previous holder of the intake) left unhandled, then
// whatever any replica stores (see intake_listen.go), until ctx ends; it returns after the
// handlers in flight finish. Reading what was left is retried until it works: a database
// that is not up yet must not park those updates until the next restart. An Intake runs
// once: a process that takes the intake again makes a new one.
func (in *Intake) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		in.mu.Lock()
		in.cond.Broadcast()
		in.mu.Unlock()
	})
	defer stop()
	for range in.opts.Workers {
		in.wg.Add(1)
		go in.work(ctx)
	}
	started := make(chan struct{})
	in.wg.Add(1)
	go func() { defer in.wg.Done(); in.listen(ctx, started) }()
	minAge, attempt := time.Duration(0), 0
	for {
		wait := in.opts.SweepInterval
		if err := in.sweep(ctx, minAge); err == nil {
			if minAge == 0 {
				in.opts.Health.Started(healthIntake)
				close(started)
			}
			minAge, attempt = in.opts.SweepInterval, 0
		} else if ctx.Err() == nil {
			attempt++
			wait = in.retryDelay(attempt)
			in.log.Error().Err(err).Dur("retry_in", wait).Msg("cannot read unhandled updates")
		}
		select {
		case <-ctx.Done():
			in.wg.Wait()
			return nil
		case <-time.After(wait):
		}
	}
}

func (in *Intake) work(ctx context.Context) {
	defer in.wg.Done()
	for {
		key, it, ok := in.next(ctx)
		if !ok {
			return
		}
		var err error
		if it.reload {
			rctx, cancel := context.WithTimeout(ctx, in.opts.CommitTimeout)
			err = in.reloadChat(rctx, key)
			cancel()
		} else {
			err = in.handle(ctx, &it)
		}
		if errors.Is(err, errStopped) || (err != nil && ctx.Err() != nil) {
			return // still stored: handled after the next start
		}
		in.finish(key, it, err)
	}
}

// prepared is what handling an update produced, kept in memory while storing it fails, so a
// retry stores the same answer instead of running the command again (a /force that reached
// the CI must not start a second build because the database blinked).
type prepared struct {
	req     commands.Request
	resp    commands.Response
	chat    *store.Chat
	resume  bool
	forward []byte // the relay to store with the handled mark (IntakeOptions.Forward)
}

// handle answers one update. It is idempotent: an update handled before is skipped. An error
// it returns may pass (the database is away): the update is tried again; what cannot pass is
// logged here and the update marked handled.
func (in *Intake) handle(ctx context.Context, it *intakeItem) error {
	if it.ran == nil {
		ran, err := in.prepare(ctx, it)
		if err != nil || ran == nil {
			return in.permanent(ctx, it, err)
		}
		it.ran = ran
	}
	cctx, cancel := in.commitContext(ctx)
	defer cancel()
	o := it.ran
	msgs, err := render(cctx, in.st, o.req, o.resp.Replies)
	if err == nil {
		err = in.commit(cctx, it.u.ID, o.chat, o.resume, o.req.ThreadID, msgs, o.forward...)
	}
	if err != nil {
		if !isRefused(err) {
			return err
		}
		// The answer itself cannot be stored (a value Postgres refuses): say so instead.
		in.log.Error().Err(err).Int64("update_id", it.u.ID).Msg("the answer cannot be stored; telling the user instead")
		o.resp = internalError()
		if msgs, err = render(cctx, in.st, o.req, o.resp.Replies); err == nil {
			err = in.commit(cctx, it.u.ID, o.chat, o.resume, o.req.ThreadID, msgs, o.forward...)
		}
		if err != nil {
			return in.permanent(ctx, &intakeItem{u: it.u}, err)
		}
	}
	if o.req.Button != nil {
		in.answer(cctx, o.req.Button.QueryID, o.resp.Notice)
	}
	return nil
}

// commitContext is a short context of its own for storing what a handler produced: neither
// a handler that used its whole budget nor shutdown may cost the answer.
func (in *Intake) commitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), in.opts.CommitTimeout)
}

// prepare reads the update and runs its handler. A nil result with a nil error means there
// is nothing to do (handled before, or gone).
func (in *Intake) prepare(ctx context.Context, it *intakeItem) (*prepared, error) {
	dctx, cancel := in.commitContext(ctx)
	defer cancel()
	u := it.u
	handled, err := in.st.IsHandled(dctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // pruned, or never stored: nothing to mark
	}
	if err != nil {
		return nil, err
	}
	if handled {
		return nil, nil
	}
	rd := &it.read
	if rd.err != nil {
		// Stored payloads had an update_id when they came in; this cannot be retried into
		// success, so mark it handled and move on.
		in.log.Error().Err(rd.err).Int64("update_id", u.ID).Msg("stored update does not decode; skipped")
		return &prepared{}, nil
	}
	if len(rd.skipped) > 0 {
		in.log.Warn().Int64("update_id", u.ID).Str("skipped", skippedText(rd.skipped)).
			Msg("update has fields herald could not read; handling the rest")
	}
	if it.limit.drop {
		return limited(rd.req, it.limit.tell), nil
	}
	upd := &rd.upd
	chat := updateChat(upd)
	if m := upd.Message; m != nil && chat != nil {
		// A group became a supergroup: Telegram says so in both (migrate_to_chat_id in the old,
		// migrate_from_chat_id first in the new). Moving the chat here, not only when a send
		// to the old id is refused, means the supergroup's commands find their registration
		// and settings; the old group's row is not saved again.
		switch {
		case m.MigrateFromChatID != 0 && m.MigrateFromChatID != chat.ID:
			if err := in.st.MigrateChat(dctx, m.MigrateFromChatID, chat.ID); err != nil {
				return nil, err
			}
		case m.MigrateToChatID != 0 && m.MigrateToChatID != chat.ID:
			if err := in.st.MigrateChat(dctx, chat.ID, m.MigrateToChatID); err != nil {
				return nil, err
			}
			chat = nil
		}
	}
	if chat != nil {
		// Before the handler: what it stores for the chat (subscriptions, watches,
		// follow-ups) references the chats row, and a chat's first message may be /notify.
		if err := in.st.SaveChat(dctx, *chat); err != nil {
			return nil, err
		}
		if m := upd.Message; m != nil && m.IsTopicMessage && m.MessageThreadID != 0 {
			name := ""
			if m.ForumTopicCreated != nil {
				name = m.ForumTopicCreated.Name
			}
			if err := in.st.SaveTopic(dctx, chat.ID, int64(m.MessageThreadID), name); err != nil {
				return nil, err
			}
		}
	}
	req, ok, stale, err := in.request(dctx, rd)
	if err != nil {
		return nil, err
	}
	o := &prepared{req: req, chat: chat,
		// Someone in the chat spoke to herald: if Telegram refused the chat before (bot
		// blocked, kicked), it takes messages again. A forwarded channel post is nobody.
		resume: chat != nil && (upd.Message != nil && req.Actor != commands.ActorAutoForward || upd.CallbackQuery != nil)}
	switch {
	case stale != "":
		o.resp.Notice = stale
		in.dropKeyboard(dctx, req)
	case ok:
		resp, err := in.run(ctx, req)
		if err != nil {
			return nil, err
		}
		o.resp = resp
	}
	if ok && stale == "" && in.opts.Forward != nil {
		o.forward = in.opts.Forward(req)
	}
	return o, nil
}

// limited is what becomes of a command the rate limit dropped: not run, marked handled, and
// answered only with tell (the first of a streak).
func limited(req commands.Request, tell string) *prepared {
	if req.Button != nil {
		return &prepared{req: req, resp: commands.Response{Notice: tell}}
	}
	if tell == "" || req.ChatID == 0 {
		return &prepared{req: req}
	}
	return &prepared{req: req, resp: commands.Say(tell)}
}

// permanent ends an update that cannot be handled: with a nil err there was nothing to do;
// a data error (Postgres refuses a value in it) would fail on every try, so it is logged, the
// chat it came from is told "internal error" (nobody is left waiting in silence) and the
// update marked handled. Anything else (the database is away) is returned to be tried again.
func (in *Intake) permanent(ctx context.Context, it *intakeItem, err error) error {
	if err != nil && !isRefused(err) {
		return err
	}
	u := it.u
	cctx, cancel := in.commitContext(ctx)
	defer cancel()
	var msgs []store.OutMessage
	req := it.read.req
	if err != nil {
		in.log.Error().Err(err).Int64("update_id", u.ID).Int64("chat_id", u.ChatID).Msg("update cannot be handled; skipped")
		if req.ChatID == 0 {
			req = commands.Request{UpdateID: u.ID, ChatID: u.ChatID}
		}
		if req.ChatID != 0 && (it.read.asks || it.ran != nil) {
			var rerr error
			if msgs, rerr = render(cctx, in.st, req, internalError().Replies); rerr != nil {
				msgs = nil
			}
		}
	}
	err = in.commit(cctx, u.ID, nil, false, req.ThreadID, msgs)
	if len(msgs) > 0 && isRefused(err) {
		err = in.commit(cctx, u.ID, nil, false, 0, nil) // not even that can be stored
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if len(msgs) > 0 && req.Button != nil {
		in.answer(cctx, req.Button.QueryID, "")
	}
	return nil
}

// isRefused reports a Postgres refusal of an update or its answer that no retry fixes: a
// value it cannot take, or a constraint the answer violates. Retrying either in-process would
// hold the chat's later commands behind it for ever.
func isRefused(err error) bool { return store.IsDataError(err) || store.IsIntegrityError(err) }

func internalError() commands.Response {
	return commands.Say("Sorry, something went wrong on my side (internal error). It has been logged.")
}

// run calls the handler under its budget and turns what it returns into an answer: a user
// error is escaped once and shown (its message is plain text), a handler out of budget gets the
// user told so, anything else is "internal error" and logged. A handler that ignores its
// context is waited for only a little past the budget: the worker must go on to the next
// update, and the user must hear something.
func (in *Intake) run(ctx context.Context, req commands.Request) (commands.Response, error) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.opts.HandlerBudget)
	defer cancel()
	// On shutdown the handler in flight gets the grace time, then its context ends.
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(in.opts.Grace, cancel)
		context.AfterFunc(hctx, func() { t.Stop() })
	})
	defer stopGrace()

	type result struct {
		resp commands.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("bot: handler panicked: %v", p)}
			}
		}()
		resp, err := in.handler.Handle(hctx, req)
		done <- result{resp, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-hctx.Done():
		select {
		case r = <-done:
		case <-time.After(in.opts.slack):
			r.err = fmt.Errorf("bot: handler did not return: %w", hctx.Err())
		}
	}
	log := in.log.With().Str("command", req.Command).Int64("chat_id", req.ChatID).Int64("user_id", req.UserID).Logger()
	switch {
	case r.err == nil:
		return r.resp, nil
	case errors.Is(hctx.Err(), context.Canceled): // the grace time after shutdown ran out
		log.Warn().Err(r.err).Msg("command cut short by shutdown; it runs again after the restart")
		return commands.Response{}, errStopped
	}
	if store.IsUnavailable(r.err) {
		// The database went away under the handler: its answer would be "internal error"
		// for a command that works once the database is back. Nothing is kept: the update
		// runs again from the start, with backoff (handlers tolerate a second run).
		return commands.Response{}, fmt.Errorf("bot: command %s: %w", req.Command, r.err)
	}
	if msg, ok := commands.AsUser(r.err); ok {
		// A user-facing error is plain text (ci.UserError): escaped here, once.
		return commands.Say(commands.Escape(msg)), nil
	}
	if errors.Is(hctx.Err(), context.DeadlineExceeded) {
		log.Warn().Err(r.err).Dur("budget", in.opts.HandlerBudget).Msg("command ran out of time")
		return commands.Say(fmt.Sprintf("Sorry, that took too long: I gave up after %s. The CI may be slow or not answering; try again later.",
			in.opts.HandlerBudget)), nil
	}
	log.Error().Err(r.err).Msg("command failed")
	return internalError(), nil
}

// commit marks the update handled and queues its replies. With resume it also lifts a pause
// of the chat, in the same transaction, and puts the notice about the pause before the
// replies: the notice goes out once, with the first answer the chat gets. forward, when
// given, is a relay of the message stored in the same transaction.
func (in *Intake) commit(ctx context.Context, updateID int64, chat *store.Chat, resume bool, threadID int64, msgs []store.OutMessage, forward ...byte) error {
	var (
		lifted bool
		pause  store.Pause
	)
	err := in.st.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.MarkHandled(ctx, updateID); err != nil {
			return err
		}
		if len(forward) > 0 {
			if err := tx.EnqueueForward(ctx, updateID, forward, in.opts.Now()); err != nil {
				return err
			}
		}
		out := msgs
		if chat != nil && resume {
			var err error
			if pause, lifted, err = tx.ResumeChat(ctx, chat.ID); err != nil {
				return err
			}
			if lifted {
				notice := store.OutMessage{ChatID: chat.ID, ThreadID: threadID, Text: PauseNotice(pause), UpdateID: updateID}
				out = append([]store.OutMessage{notice}, msgs...)
			}
		}
		return tx.Enqueue(ctx, out...)
	})
	if errors.Is(err, store.ErrHandled) {
		return nil
	}
	if err == nil && lifted {
		in.log.Info().Int64("chat_id", chat.ID).Time("paused_at", pause.Since).Int("failed", pause.Failed).
			Msg("chat spoke again: pause lifted, admins told what was not delivered")
	}
	return err
}

// PauseNotice tells a chat that herald could not write to it for a while, and what that cost.
// Nobody in the chat could see the 403 herald got; this is the first moment it can say so.
func PauseNotice(p store.Pause) string {
	what := fmt.Sprintf("%d notifications were", p.Failed)
	if p.Failed == 1 {
		what = "1 notification was"
	}
	return fmt.Sprintf("I could not write here since %s (%s); %s not delivered.",
		p.Since.UTC().Format("2006-01-02 15:04 MST"), commands.Escape(p.Reason), what)
}

// answer acknowledges a button press so the user's client stops its spinner. It is not
// queued: an answer is only useful within seconds, and losing one costs nothing.
func (in *Intake) answer(ctx context.Context, queryID, notice string) {
	_, err := in.api.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: queryID, Text: notice})
	if err != nil {
		in.log.Warn().Str("error", redactError(err, in.api.Token())).Msg("answerCallbackQuery failed")
	}
}

// dropKeyboard removes the keyboard of a message whose button is stale.
func (in *Intake) dropKeyboard(ctx context.Context, req commands.Request) {
	if req.ChatID == 0 || req.MessageID == 0 {
		return
	}
	_, err := in.api.EditMessageReplyMarkup(ctx, &tgbot.EditMessageReplyMarkupParams{
		ChatID: req.ChatID, MessageID: req.MessageID,
		ReplyMarkup: models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{}},
	})
	if err != nil {
		in.log.Warn().Str("error", redactError(err, in.api.Token())).Msg("cannot remove a stale keyboard")
	}
}
