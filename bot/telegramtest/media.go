package telegramtest

import (
	"fmt"
	"net/http"
	"strings"
)

// Media is the file of a photo or document the bot sent (Message.Media).
type Media struct {
	Method   string // sendPhoto or sendDocument
	Ref      string // the URL or file_id sent instead of an upload
	FileName string // an upload's file name
	Data     []byte // an upload's bytes
}

// maxCaptionLen is Telegram's limit on a caption after entity parsing, in UTF-16 code units.
const maxCaptionLen = 1024

// fileKey is where parseParams keeps an uploaded file part: apart from the form fields, so a
// field and a file of one name do not mix.
func fileKey(name string) string { return "\x00file:" + name }

// fileParam packs an upload's name and bytes into one params value; upload unpacks it.
func fileParam(name string, data []byte) string { return name + "\x00" + string(data) }

func (p params) upload(name string) (fileName string, data []byte, ok bool) {
	v, ok := p[fileKey(name)]
	if !ok {
		return "", nil, false
	}
	fileName, rest, _ := strings.Cut(v, "\x00")
	return fileName, []byte(rest), true
}

func init() {
	register("sendPhoto", func(s *Server, r *http.Request, p params) (any, *apiError) {
		return s.sendMedia(r, p, "sendPhoto", "photo")
	})
	register("sendDocument", func(s *Server, r *http.Request, p params) (any, *apiError) {
		return s.sendMedia(r, p, "sendDocument", "document")
	})
}

type apiFile struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name,omitempty"`
	FileSize     int    `json:"file_size,omitempty"`
	Width        int    `json:"width,omitempty"`
	Height       int    `json:"height,omitempty"`
}

type apiMediaMessage struct {
	apiMessage
	Caption         string    `json:"caption,omitempty"`
	CaptionEntities []Entity  `json:"caption_entities,omitempty"`
	Photo           []apiFile `json:"photo,omitempty"`
	Document        *apiFile  `json:"document,omitempty"`
}

// sendMedia is sendPhoto and sendDocument: a file uploaded (multipart, as the part named
// field or the one "attach://<name>" names) or given by URL or file_id, with an optional
// caption, under the same chat checks and flood limits as sendMessage.
func (s *Server) sendMedia(r *http.Request, p params, method, field string) (any, *apiError) {
	chatID, apiErr := chatIDParam(p)
	if apiErr != nil {
		return nil, apiErr
	}
	threadID, ok := p.int64("message_thread_id")
	if !ok {
		return nil, badRequest("invalid message_thread_id")
	}
	var caption formattedText
	if strings.TrimSpace(p.str("caption")) != "" {
		caption, apiErr = parseText(params{"text": p.str("caption"), "parse_mode": p.str("parse_mode")})
		if apiErr != nil && apiErr.Description != "Bad Request: message is too long" {
			return nil, apiErr
		}
		if apiErr != nil || utf16Len(caption.plain) > maxCaptionLen {
			return nil, badRequest("message caption is too long")
		}
	}
	kb, apiErr := parseKeyboard(p)
	if apiErr != nil {
		return nil, apiErr
	}
	media := &Media{Method: method}
	ref := strings.TrimSpace(p.str(field))
	name, data, uploaded := p.upload(field)
	if attached, ok := strings.CutPrefix(ref, "attach://"); ok {
		name, data, uploaded = p.upload(attached)
		ref = ""
	}
	switch {
	case uploaded && len(data) == 0:
		return nil, badRequest("file must be non-empty")
	case uploaded:
		media.FileName, media.Data = name, data
	case ref != "":
		media.Ref = ref
	default:
		return nil, badRequest("there is no %s in the request", field)
	}
	if err := s.waitHold(r.Context()); err != nil {
		return nil, &apiError{Code: http.StatusBadGateway, Description: "Bad Gateway"}
	}

	s.mu.Lock()
	cs, apiErr := s.writableChatLocked(chatID)
	if apiErr != nil {
		s.mu.Unlock()
		return nil, apiErr
	}
	now := s.now()
	if s.limiter != nil {
		if retry, ok := s.limiter.admit(chatID, isGroup(cs.chat), now); !ok {
			s.stats.RateLimited++
			s.mu.Unlock()
			return nil, tooManyRequests(retry)
		}
	}
	m := &sentMessage{Message: Message{
		ChatID: chatID, ThreadID: threadID, MessageID: cs.nextMsgID,
		Text: caption.text, ParseMode: caption.parseMode, Keyboard: kb,
		Silent: p.bool("disable_notification"), SentAt: now, Media: media,
	}}
	cs.nextMsgID++
	cs.msgs = append(cs.msgs, m)
	cs.byID[m.MessageID] = m
	s.allSent = append(s.allSent, m.Message)
	s.notifyLocked()
	out := apiMediaMessage{apiMessage: s.apiMessageLocked(cs, m), Caption: caption.plain, CaptionEntities: caption.entities}
	file := apiFile{FileID: fmt.Sprintf("%s-%d-%d", field, chatID, m.MessageID), FileSize: len(data)}
	file.FileUniqueID = file.FileID
	if method == "sendPhoto" {
		file.Width, file.Height = 320, 240
		out.Photo = []apiFile{file}
	} else {
		file.FileName = name
		out.Document = &file
	}
	s.mu.Unlock()
	s.emit(m.Message)
	return out, nil
}
