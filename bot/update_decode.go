package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-telegram/bot/models"

	"github.com/herald-ci/herald/store"
)

// Telegram adds fields to its types and now and then changes one's shape. Decoding a whole
// update into the library's types fails on any such change anywhere in it — a new kind of
// photo size, a field that became an object — and the update was refused or dropped although
// herald needs none of that. So only update_id is required; the parts herald uses are decoded
// one field at a time, and a field that does not decode is left empty and named in skipped.

// errNoUpdateID is the one way an update is refused: without an id it cannot be stored,
// acknowledged or handled exactly once.
var errNoUpdateID = errors.New("bot: not a Telegram update: update_id is missing")

// decodeUpdateLenient reads raw as a Telegram update. It fails only when raw is not a JSON
// object or has no positive update_id. skipped lists the fields herald uses that could not be
// read (as paths such as "message.entities"), for a log line.
func decodeUpdateLenient(raw []byte) (u models.Update, skipped []string, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return u, nil, fmt.Errorf("bot: not a Telegram update: %w", err)
	}
	if err := json.Unmarshal(top["update_id"], &u.ID); err != nil || u.ID <= 0 {
		return models.Update{}, nil, errNoUpdateID
	}
	d := &lenient{}
	if raw, ok := top["message"]; ok {
		u.Message = d.message(raw, "message")
	}
	if raw, ok := top["callback_query"]; ok {
		u.CallbackQuery = d.callbackQuery(raw, "callback_query")
	}
	if raw, ok := top["my_chat_member"]; ok {
		if obj, ok := d.object(raw, "my_chat_member"); ok {
			var c models.Chat
			if d.chat(obj["chat"], "my_chat_member.chat", &c) {
				u.MyChatMember = &models.ChatMemberUpdated{Chat: c}
			}
		}
	}
	return u, d.skipped, nil
}

// lenient collects the paths it could not decode.
type lenient struct{ skipped []string }

func (d *lenient) skip(path string) { d.skipped = append(d.skipped, path) }

// object splits raw into its fields; anything but an object is skipped.
func (d *lenient) object(raw json.RawMessage, path string) (map[string]json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		d.skip(path)
		return nil, false
	}
	return obj, true
}

// field decodes obj[key] into dst when present; a field of the wrong type is skipped and
// dst keeps its zero value.
func (d *lenient) field(obj map[string]json.RawMessage, key, path string, dst any) bool {
	raw, ok := obj[key]
	if !ok || string(raw) == "null" {
		return false
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		d.skip(path + "." + key)
		return false
	}
	return true
}

// message reads what herald uses of a Message. A message whose chat cannot be read is of no
// use (there is nowhere to answer): it is skipped as a whole.
func (d *lenient) message(raw json.RawMessage, path string) *models.Message {
	obj, ok := d.object(raw, path)
	if !ok {
		return nil
	}
	var m models.Message
	if !d.chat(obj["chat"], path+".chat", &m.Chat) {
		d.skip(path)
		return nil
	}
	d.field(obj, "message_id", path, &m.ID)
	d.field(obj, "message_thread_id", path, &m.MessageThreadID)
	d.field(obj, "date", path, &m.Date)
	if raw, ok := obj["from"]; ok {
		var u models.User
		if d.user(raw, path+".from", &u) {
			m.From = &u
		}
	}
	if raw, ok := obj["sender_chat"]; ok {
		var c models.Chat
		if d.chat(raw, path+".sender_chat", &c) {
			m.SenderChat = &c
		}
	}
	d.field(obj, "text", path, &m.Text)
	m.Entities = d.entities(obj["entities"], path+".entities")
	d.field(obj, "is_topic_message", path, &m.IsTopicMessage)
	d.field(obj, "is_automatic_forward", path, &m.IsAutomaticForward)
	d.field(obj, "migrate_to_chat_id", path, &m.MigrateToChatID)
	d.field(obj, "migrate_from_chat_id", path, &m.MigrateFromChatID)
	if raw, ok := obj["forum_topic_created"]; ok {
		if t, ok := d.object(raw, path+".forum_topic_created"); ok {
			var name string
			d.field(t, "name", path+".forum_topic_created", &name)
			m.ForumTopicCreated = &models.ForumTopicCreated{Name: name}
		}
	}
	return &m
}

// chat reads a Chat; it needs at least a non-zero id.
func (d *lenient) chat(raw json.RawMessage, path string, c *models.Chat) bool {
	if raw == nil {
		d.skip(path)
		return false
	}
	obj, ok := d.object(raw, path)
	if !ok {
		return false
	}
	if !d.field(obj, "id", path, &c.ID) || c.ID == 0 {
		d.skip(path + ".id")
		return false
	}
	var typ string
	d.field(obj, "type", path, &typ)
	c.Type = models.ChatType(typ)
	d.field(obj, "title", path, &c.Title)
	d.field(obj, "username", path, &c.Username)
	d.field(obj, "first_name", path, &c.FirstName)
	d.field(obj, "is_forum", path, &c.IsForum)
	return true
}

// user reads a User; it needs at least a non-zero id.
func (d *lenient) user(raw json.RawMessage, path string, u *models.User) bool {
	obj, ok := d.object(raw, path)
	if !ok {
		return false
	}
	if !d.field(obj, "id", path, &u.ID) || u.ID == 0 {
		d.skip(path + ".id")
		return false
	}
	d.field(obj, "is_bot", path, &u.IsBot)
	d.field(obj, "first_name", path, &u.FirstName)
	d.field(obj, "username", path, &u.Username)
	return true
}

// entities keeps the entities whose type, offset and length read; herald looks only for
// bot_command among them.
func (d *lenient) entities(raw json.RawMessage, path string) []models.MessageEntity {
	if raw == nil || string(raw) == "null" {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		d.skip(path)
		return nil
	}
	var out []models.MessageEntity
	for i, r := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		obj, ok := d.object(r, p)
		if !ok {
			continue
		}
		var (
			e   models.MessageEntity
			typ string
		)
		d.field(obj, "offset", p, &e.Offset) // 0 when left out
		if !d.field(obj, "type", p, &typ) || !d.field(obj, "length", p, &e.Length) {
			continue // a wrong type is named already; a missing one leaves nothing to use
		}
		e.Type = models.MessageEntityType(typ)
		out = append(out, e)
	}
	return out
}

// callbackQuery reads a button press. Without its id the press cannot be answered, and
// without data it asks nothing: either skips it.
func (d *lenient) callbackQuery(raw json.RawMessage, path string) *models.CallbackQuery {
	obj, ok := d.object(raw, path)
	if !ok {
		return nil
	}
	var cq models.CallbackQuery
	if !d.field(obj, "id", path, &cq.ID) || cq.ID == "" {
		d.skip(path)
		return nil
	}
	d.user(obj["from"], path+".from", &cq.From)
	d.field(obj, "data", path, &cq.Data)
	if raw, ok := obj["message"]; ok {
		msg, ok := d.object(raw, path+".message")
		if ok {
			// Telegram's MaybeInaccessibleMessage: date 0 means the bot can no longer see
			// the message, and then only its chat and id are given.
			var date int64
			d.field(msg, "date", path+".message", &date)
			if date == 0 {
				var im models.InaccessibleMessage
				if d.chat(msg["chat"], path+".message.chat", &im.Chat) {
					d.field(msg, "message_id", path+".message", &im.MessageID)
					cq.Message = models.MaybeInaccessibleMessage{Type: models.MaybeInaccessibleMessageTypeInaccessibleMessage, InaccessibleMessage: &im}
				}
			} else if m := d.message(raw, path+".message"); m != nil {
				cq.Message = models.MaybeInaccessibleMessage{Type: models.MaybeInaccessibleMessageTypeMessage, Message: m}
			}
		}
	}
	return &cq
}

// receive is the one reading of an update as it comes in, for the poller and the webhook
// alike: its payload is cleaned of what Postgres would refuse (store.CleanPayload: a NUL, a
// lone surrogate, invalid UTF-8 in a name or a text) before it is stored and before it is
// handled, so the intake handles the update that is stored, and a chat titled "A\u0000B" is
// saved and answered like any other. Only an update without an update_id is an error.
func receive(raw []byte) (store.Update, error) {
	raw = store.CleanPayload(raw)
	u, err := decodeUpdate(raw)
	if err != nil {
		return store.Update{}, err
	}
	return store.Update{ID: u.ID, ChatID: chatOf(&u), Payload: raw}, nil
}

// skippedText joins skipped paths for a log field.
func skippedText(skipped []string) string { return strings.Join(skipped, ", ") }
