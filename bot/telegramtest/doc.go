// Package telegramtest is a fake Telegram Bot API server for herald's tests and for
// trying herald without a bot token. Telegram is unreachable from where herald is
// built and tested, and a mock that only records calls would not catch what the real
// API refuses, so this server behaves like the Bot API where herald depends on it:
//
//   - URLs are <base>/bot<TOKEN>/<method>; a wrong token answers 401, an unknown
//     method 404, every reply is {"ok":true,"result":...} or
//     {"ok":false,"error_code":N,"description":"...","parameters":{...}}.
//   - Parameters arrive as JSON, urlencoded or multipart bodies (go-telegram/bot sends
//     multipart, with objects such as reply_markup as JSON strings) or a query string.
//   - getUpdates long-polls; an offset forgets every update below it for good; a newer
//     poll ends the open one with 409 Conflict ("terminated by other getUpdates request"),
//     and so does an active webhook. PollOverlaps counts the polls that arrived while
//     another was open (0: never two at once), PollConflicts the 409s answered.
//   - sendMessage validates like Telegram: HTML parse mode (allowed tags, balanced),
//     4096 UTF-16 code units after parsing, non-empty text, callback_data of 1-64 bytes.
//   - setWebhook makes the server POST each update, in order, to the URL with the
//     X-Telegram-Bot-Api-Secret-Token header, retrying refused deliveries.
//   - Limits (optional) answer 429 with retry_after; FailNext, SetOutage, BlockChat,
//     MigrateChat and HoldSends inject the failures herald must survive;
//     SetUndecodableResults answers ok:true with a message whose date and chat id are
//     strings, as after a change of type or a rewriting proxy (strict clients fail on it).
//   - Users are played with SendText, Press and, for messages a chat sends on someone's
//     behalf, SendPost: an anonymous group admin (sender_chat the group, from
//     GroupAnonymousBot 1087968824), a channel (from Channel_Bot 136817688) or a channel
//     post forwarded into its discussion group (is_automatic_forward, from 777000).
//     SendRawUpdate queues any update JSON as it is, for fields herald does not expect.
//
// In a Go test:
//
//	tg := telegramtest.New(telegramtest.Options{Token: "123:abc"})
//	defer tg.Close()
//	// point herald at tg.URL() with token "123:abc", then act as a user:
//	ann := telegramtest.User{ID: 42, FirstName: "Ann", Username: "ann"}
//	tg.SendText(telegramtest.PrivateChat(ann), ann, "/status")
//	msgs, err := tg.WaitMessages(ctx, ann.ID, 1)
//
// # Trying herald by hand
//
// cmd/fake-telegram serves the same API on a fixed address, plus a control API to
// play the users' side, and prints every message the bot sends:
//
//	go run ./cmd/fake-telegram -listen 127.0.0.1:8081 -token 123:abc [-limits] [-strict-chats] [-undecodable]
//
// Point herald's Telegram API URL at http://127.0.0.1:8081 with token 123:abc, then:
//
//	# a private message from user 42
//	curl -d '{"user_id":42,"username":"ann","text":"/status"}' http://127.0.0.1:8081/fake/send
//	# a message in a group (chat_type: private, group or supergroup; thread_id for forum topics)
//	curl -d '{"chat_id":-1001,"chat_type":"supergroup","user_id":42,"text":"/last"}' http://127.0.0.1:8081/fake/send
//	# an anonymous admin of group -1001 (sender_chat is the group itself; user_id may be left out)
//	curl -d '{"chat_id":-1001,"chat_type":"supergroup","sender_chat":{"id":-1001},"text":"/getid"}' http://127.0.0.1:8081/fake/send
//	# press an inline button under the bot's message 3 in chat 42
//	curl -d '{"chat_id":42,"user_id":42,"message_id":3,"data":"<callback_data>"}' http://127.0.0.1:8081/fake/press
//	# what the bot has said in chat 42 (edits applied)
//	curl 'http://127.0.0.1:8081/fake/messages?chat_id=42'
//
// Differences from Telegram: webhooks may be plain http; Markdown parse modes are not
// validated; chat ids not seen before are accepted unless Options.StrictChats; only
// the methods herald uses exist (others answer 404).
package telegramtest
