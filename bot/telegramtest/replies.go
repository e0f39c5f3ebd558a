package telegramtest

// Replies: sendMessage's reply_parameters (and the older reply_to_message_id), the way
// Telegram treats them. A reply names a message of the same chat; when that message does
// not exist or was deleted, Telegram answers 400 "message to be replied not found", unless
// allow_sending_without_reply is set, in which case the message goes out as no reply. In a
// forum topic that flag is always false.

type replyParameters struct {
	MessageID                int64 `json:"message_id"`
	ChatID                   any   `json:"chat_id"`
	AllowSendingWithoutReply bool  `json:"allow_sending_without_reply"`
}

// replyTarget reads what the call replies to: the message id and whether a missing one may be
// ignored. 0 means no reply asked.
func replyTarget(p params) (int, bool, *apiError) {
	if p.has("reply_parameters") {
		var rp replyParameters
		if err := p.json("reply_parameters", &rp); err != nil {
			return 0, false, badRequest("can't parse reply parameters JSON object")
		}
		if rp.ChatID != nil {
			return 0, false, badRequest("replies to other chats are not supported by this fake")
		}
		return int(rp.MessageID), rp.AllowSendingWithoutReply, nil
	}
	id, ok := p.int64("reply_to_message_id")
	if !ok {
		return 0, false, badRequest("invalid reply_to_message_id")
	}
	return int(id), p.bool("allow_sending_without_reply"), nil
}

// resolveReplyLocked is the message id a new message in cs (topic threadID) answers, 0 for
// none, or Telegram's refusal.
func resolveReplyLocked(cs *chatState, threadID int64, id int, allowWithout bool) (int, *apiError) {
	if id == 0 {
		return 0, nil
	}
	if m, ok := cs.byID[id]; ok && !m.Deleted && m.ThreadID == threadID {
		return id, nil
	}
	if allowWithout && threadID == 0 {
		return 0, nil
	}
	return 0, badRequest("message to be replied not found")
}
