package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// Intake handles stored updates: a fixed number of workers, each chat always on the same
// worker, so commands in one chat are answered in order while chats proceed in parallel.
// Every update reaching the intake is already in Postgres; handling it and storing its
// replies commit together, so a crash neither loses nor repeats a command.
type Intake struct {
	st       *store.Store
	api      *tgbot.Bot
	handler  commands.Handler
	username func() string
	log      zerolog.Logger
	queues   []chan store.Update
	grace    time.Duration
	wg       sync.WaitGroup
}

// IntakeOptions configure an Intake.
type IntakeOptions struct {
	Workers int // parallel chats; default 8
	// Grace is how long a handler in flight may go on after shutdown starts; default 20s.
	Grace time.Duration
}

// NewIntake returns an intake handing requests to handler. username gives herald's bot
// username (learnt at start) for "/cmd@name" parsing.
func NewIntake(st *store.Store, api *tgbot.Bot, handler commands.Handler, username func() string, opts IntakeOptions, log zerolog.Logger) *Intake {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Grace <= 0 {
		opts.Grace = 20 * time.Second
	}
	in := &Intake{st: st, api: api, handler: handler, username: username, log: log, grace: opts.Grace}
	for i := 0; i < opts.Workers; i++ {
		in.queues = append(in.queues, make(chan store.Update, 64))
	}
	return in
}

// Run handles what a previous run left unhandled, then whatever Submit passes, until ctx
// ends; it returns after the handlers in flight finish.
func (in *Intake) Run(ctx context.Context) error {
	for _, q := range in.queues {
		in.wg.Add(1)
		go in.work(ctx, q)
	}
	pending, err := in.st.PendingUpdates(ctx, 10000)
	if err != nil {
		in.log.Error().Err(err).Msg("cannot read unhandled updates; they will be handled after the next restart")
	} else if len(pending) > 0 {
		in.log.Info().Int("count", len(pending)).Msg("handling updates left from before the restart")
		in.Submit(ctx, pending...)
	}
	<-ctx.Done()
	in.wg.Wait()
	return nil
}

// Submit queues stored updates for handling. It blocks while the chat's worker is busy,
// which slows intake down instead of piling updates up in memory.
func (in *Intake) Submit(ctx context.Context, ups ...store.Update) {
	for _, u := range ups {
		h := fnv.New32a()
		fmt.Fprint(h, u.ChatID)
		select {
		case in.queues[h.Sum32()%uint32(len(in.queues))] <- u:
		case <-ctx.Done():
			return // still stored: handled after the next start
		}
	}
}

func (in *Intake) work(ctx context.Context, q chan store.Update) {
	defer in.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case u := <-q:
			// A handler in flight finishes even when shutdown starts, within the grace time.
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.grace)
			if err := in.handle(hctx, u); err != nil {
				in.log.Error().Err(err).Int64("update_id", u.ID).Int64("chat_id", u.ChatID).Msg("update not handled; it will be retried after a restart")
			}
			cancel()
		}
	}
}

// handle answers one update. It is idempotent: an update handled before is skipped.
func (in *Intake) handle(ctx context.Context, u store.Update) error {
	handled, err := in.st.IsHandled(ctx, u.ID)
	if err != nil {
		return err
	}
	if handled {
		return nil
	}
	var upd models.Update
	if err := json.Unmarshal(u.Payload, &upd); err != nil {
		// Stored payloads came from Telegram and decoded before; this cannot be retried into
		// success, so mark it handled and move on.
		in.log.Error().Err(err).Int64("update_id", u.ID).Msg("stored update does not decode; skipped")
		return in.commit(ctx, u.ID, nil, false, 0, nil)
	}
	chat := updateChat(&upd)
	if chat != nil {
		// Before the handler: what it stores for the chat (subscriptions, watches,
		// follow-ups) references the chats row, and a chat's first message may be /notify.
		if err := in.st.SaveChat(ctx, *chat); err != nil {
			return err
		}
		if m := upd.Message; m != nil && m.IsTopicMessage && m.MessageThreadID != 0 {
			name := ""
			if m.ForumTopicCreated != nil {
				name = m.ForumTopicCreated.Name
			}
			if err := in.st.SaveTopic(ctx, chat.ID, int64(m.MessageThreadID), name); err != nil {
				return err
			}
		}
	}
	req, ok, stale := in.request(ctx, u.ID, &upd)
	var resp commands.Response
	if stale != "" {
		resp.Notice = stale
		in.dropKeyboard(ctx, req)
	} else if ok {
		resp = in.run(ctx, req)
	}
	msgs, err := render(ctx, in.st, req, resp.Replies)
	if err != nil {
		return err
	}
	// Someone in the chat spoke to herald: if Telegram refused the chat before (bot blocked,
	// kicked), it takes messages again.
	resume := chat != nil && (upd.Message != nil || upd.CallbackQuery != nil)
	if err := in.commit(ctx, u.ID, chat, resume, req.ThreadID, msgs); err != nil {
		return err
	}
	if req.Button != nil {
		in.answer(ctx, req.Button.QueryID, resp.Notice)
	}
	return nil
}

// run calls the handler; an error becomes a chat-safe reply.
func (in *Intake) run(ctx context.Context, req commands.Request) commands.Response {
	resp, err := in.handler.Handle(ctx, req)
	if err == nil {
		return resp
	}
	if msg, ok := commands.AsUser(err); ok {
		return commands.Say(commands.Escape(msg))
	}
	in.log.Error().Err(err).Str("command", req.Command).Int64("chat_id", req.ChatID).Int64("user_id", req.UserID).Msg("command failed")
	return commands.Say("Sorry, something went wrong on my side (internal error). It has been logged.")
}

// commit marks the update handled and queues its replies. With resume it also lifts a pause
// of the chat, in the same transaction, and puts the notice about the pause before the
// replies: the notice goes out once, with the first answer the chat gets.
func (in *Intake) commit(ctx context.Context, updateID int64, chat *store.Chat, resume bool, threadID int64, msgs []store.OutMessage) error {
	var (
		lifted bool
		pause  store.Pause
	)
	err := in.st.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.MarkHandled(ctx, updateID); err != nil {
			return err
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
		p.Since.UTC().Format("2006-01-02 15:04 MST"), html.EscapeString(p.Reason), what)
}

// request builds the Request of an update. ok is false for updates that ask nothing (a
// member joined, an edited message). stale is a notice for a button whose payload is gone.
func (in *Intake) request(ctx context.Context, updateID int64, upd *models.Update) (req commands.Request, ok bool, stale string) {
	req.UpdateID = updateID
	switch {
	case upd.Message != nil:
		m := upd.Message
		fillChat(&req, m)
		if m.From != nil {
			req.UserID, req.UserName, req.FirstName = m.From.ID, m.From.Username, m.From.FirstName
		}
		req.Text = m.Text
		if cmd, isCmd := ParseCommand(m.Text, m.Entities, in.username()); isCmd {
			req.Command, req.Args = cmd.Name, cmd.Args
			return req, true, ""
		}
		if m.Text == "" || len(m.Text) > 0 && m.Text[0] == '/' {
			return req, false, "" // not text, or a command for another bot
		}
		return req, true, ""
	case upd.CallbackQuery != nil:
		cq := upd.CallbackQuery
		req.UserID, req.UserName, req.FirstName = cq.From.ID, cq.From.Username, cq.From.FirstName
		if cq.Message.Message != nil {
			fillChat(&req, cq.Message.Message)
		} else if cq.Message.InaccessibleMessage != nil {
			req.ChatID = cq.Message.InaccessibleMessage.Chat.ID
			req.MessageID = cq.Message.InaccessibleMessage.MessageID
		}
		req.Button = &commands.Pressed{QueryID: cq.ID}
		data, err := in.st.Callback(ctx, req.ChatID, cq.Data)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				in.log.Error().Err(err).Msg("cannot read button payload")
			}
			return req, false, "This button has expired. Run the command again."
		}
		req.Button.Data = data
		return req, true, ""
	}
	return req, false, ""
}

func fillChat(req *commands.Request, m *models.Message) {
	req.ChatID, req.ChatType, req.ChatTitle = m.Chat.ID, string(m.Chat.Type), m.Chat.Title
	req.IsForum = m.Chat.IsForum
	req.MessageID = m.ID
	if m.IsTopicMessage {
		req.ThreadID = int64(m.MessageThreadID)
	}
}

// updateChat is the chat an update comes from, to keep the chats table current.
func updateChat(upd *models.Update) *store.Chat {
	var c *models.Chat
	switch {
	case upd.Message != nil:
		c = &upd.Message.Chat
	case upd.CallbackQuery != nil && upd.CallbackQuery.Message.Message != nil:
		c = &upd.CallbackQuery.Message.Message.Chat
	case upd.MyChatMember != nil:
		c = &upd.MyChatMember.Chat
	}
	if c == nil || c.ID == 0 {
		return nil
	}
	title := c.Title
	if title == "" {
		title = c.FirstName
	}
	return &store.Chat{ID: c.ID, Type: string(c.Type), Title: title, Username: c.Username, IsForum: c.IsForum}
}

// chatOf extracts the chat id of a raw update, for routing and storage.
func chatOf(upd *models.Update) int64 {
	if c := updateChat(upd); c != nil {
		return c.ID
	}
	if upd.CallbackQuery != nil && upd.CallbackQuery.Message.InaccessibleMessage != nil {
		return upd.CallbackQuery.Message.InaccessibleMessage.Chat.ID
	}
	return 0
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
