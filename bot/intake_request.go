package bot

// Reading an update into a commands.Request: who asks (a person, an anonymous admin, a
// channel), where, and what. The rate limit and the handler both work from this one reading.

import (
	"context"
	"errors"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// Telegram's placeholder senders (https://core.telegram.org/bots/api#message, "from" and
// "sender_chat"): the same ids in every chat, naming nobody.
const (
	groupAnonymousBotID = 1087968824 // a group admin writing anonymously, as the group
	channelBotID        = 136817688  // someone posting as a channel
	telegramServiceID   = 777000     // channel posts forwarded into the linked discussion group
)

// updateRead is what the intake reads of an update, once, as it comes in: the rate limit and
// the handler work from this one reading, so they agree on who asks what.
type updateRead struct {
	upd     models.Update
	skipped []string // fields herald uses that did not decode
	err     error    // the payload does not decode at all
	req     commands.Request
	asks    bool      // the update asks herald something (a button's payload is read later)
	counts  bool      // it counts against the command rate limit
	sender  int64     // whom it counts against
	sentAt  time.Time // when the user sent it (message.date); zero for a button press
}

// readUpdate decodes a stored update and says what it asks and who asks (describe).
func (in *Intake) readUpdate(u store.Update) updateRead {
	var rd updateRead
	rd.upd, rd.skipped, rd.err = decodeUpdateLenient(u.Payload)
	if rd.err != nil {
		return rd
	}
	rd.req, rd.asks = describe(u.ID, &rd.upd, in.username())
	rd.req.UpdateID = u.ID
	switch {
	case rd.upd.Message != nil:
		// Commands count, not chatter. Anonymous admins and channels, whose user ids are
		// placeholders shared by everyone posting that way, count as the chat they post as.
		rd.counts = rd.req.Command != ""
		rd.sender = rd.req.UserID
		if !rd.req.Person() {
			rd.sender = rd.req.SenderChatID
		}
		if rd.upd.Message.Date > 0 {
			rd.sentAt = time.Unix(int64(rd.upd.Message.Date), 0)
		}
	case rd.upd.CallbackQuery != nil:
		rd.counts, rd.sender = true, rd.req.UserID
	}
	return rd
}

// describe builds the Request of an update, as far as the update itself tells: asks is false
// for updates that ask nothing (a member joined, an edited message, a channel post forwarded
// into its discussion group, a command for another bot). A button's payload is not read here
// (request does that).
func describe(updateID int64, upd *models.Update, username string) (req commands.Request, asks bool) {
	req.UpdateID = updateID
	switch {
	case upd.Message != nil:
		m := upd.Message
		fillChat(&req, m)
		if m.From != nil {
			req.UserID, req.UserName, req.FirstName = m.From.ID, m.From.Username, m.From.FirstName
		}
		fillActor(&req, m)
		if req.Actor == commands.ActorAutoForward {
			// A post of the channel, not a member of the group speaking: a "/force" in it
			// is the channel's text, not a command to herald.
			return req, false
		}
		req.Text = m.Text
		if cmd, isCmd := ParseCommand(m.Text, m.Entities, username); isCmd {
			req.Command, req.Args = cmd.Name, cmd.Args
			return req, true
		}
		if m.Text == "" || len(m.Text) > 0 && m.Text[0] == '/' {
			return req, false // not text, or a command for another bot
		}
		return req, true
	case upd.CallbackQuery != nil:
		cq := upd.CallbackQuery
		// Who pressed: Telegram names the person even when they write anonymously.
		req.UserID, req.UserName, req.FirstName = cq.From.ID, cq.From.Username, cq.From.FirstName
		fillPressChat(&req, cq)
		req.Button = &commands.Pressed{QueryID: cq.ID}
		return req, true
	}
	return req, false
}

// request completes what describe read with what is stored: a button's payload. ok is false
// for updates that ask nothing; stale is a notice for a button whose payload is gone; err a
// failure to read it that may pass.
func (in *Intake) request(ctx context.Context, rd *updateRead) (req commands.Request, ok bool, stale string, err error) {
	req = rd.req
	if !rd.asks || req.Button == nil {
		return req, rd.asks, "", nil
	}
	button := *req.Button // the read is shared with retries: fill a copy
	req.Button = &button
	data, err := in.st.Callback(ctx, req.ChatID, rd.upd.CallbackQuery.Data)
	if errors.Is(err, store.ErrNotFound) {
		return req, false, "This button has expired. Run the command again.", nil
	}
	if err != nil {
		return req, false, "", err
	}
	req.Button.Data = data
	return req, true, "", nil
}

// fillActor says who stands behind a message (see commands.Actor). sender_chat is what
// Telegram documents; the placeholder ids are checked too, for a message that lacks it.
func fillActor(req *commands.Request, m *models.Message) {
	if sc := m.SenderChat; sc != nil {
		req.SenderChatID, req.SenderChatTitle = sc.ID, sc.Title
	}
	var from int64
	if m.From != nil {
		from = m.From.ID
	}
	switch {
	case m.IsAutomaticForward || from == telegramServiceID:
		req.Actor = commands.ActorAutoForward
	case m.SenderChat != nil && m.SenderChat.ID == m.Chat.ID, from == groupAnonymousBotID:
		req.Actor = commands.ActorAnonymousAdmin
		if req.SenderChatID == 0 {
			req.SenderChatID, req.SenderChatTitle = m.Chat.ID, m.Chat.Title
		}
	case m.SenderChat != nil, from == channelBotID:
		req.Actor = commands.ActorChannel
	}
}

// fillPressChat sets where a pressed button is, whether herald can still see its message.
func fillPressChat(req *commands.Request, cq *models.CallbackQuery) {
	if cq.Message.Message != nil {
		fillChat(req, cq.Message.Message)
	} else if cq.Message.InaccessibleMessage != nil {
		req.ChatID = cq.Message.InaccessibleMessage.Chat.ID
		req.MessageID = cq.Message.InaccessibleMessage.MessageID
	}
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
