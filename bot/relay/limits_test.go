package relay

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSmallBodiesCapped: a call that cannot carry a file (JSON, a form) is read up to
// maxSmallBody only, so many of them at once cannot hold 51 MB each; over it the answer is
// Telegram's 413, before anything is queued.
func TestSmallBodiesCapped(t *testing.T) {
	f := newFixture(t)
	big := strings.Repeat("a", maxSmallBody)
	wantError(t, f.send(map[string]any{"chat_id": chatID, "text": big}), 413, "Request Entity Too Large")
	form := httptest.NewRequest(http.MethodPost, "/relay/"+secret+"/sendMessage",
		strings.NewReader("chat_id=5023003345&text="+big))
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	wantError(t, f.do(form), 413, "Request Entity Too Large")
	if n := len(f.outbox()); n != 0 {
		t.Errorf("%d rows queued, want none", n)
	}
	// Below the cap a call is read as before.
	if a := f.send(map[string]any{"chat_id": chatID, "text": "hello"}); !a.OK {
		t.Errorf("a small call: %+v", a)
	}
}

// TestUploadTurnByMediaType: whether a call waits for an upload's turn is decided by its
// parsed media type, which is case-blind: "Multipart/Form-Data" is an upload and waits while
// maxUploads are being read (here the tool gives up waiting, and nothing is answered or queued).
func TestUploadTurnByMediaType(t *testing.T) {
	f := newFixture(t)
	for range maxUploads {
		f.h.uploads <- struct{}{}
	}
	req := multipartRequest(t, "sendDocument", map[string]string{"chat_id": "5023003345"}, "document", "a.txt", []byte("hi"))
	req.Header.Set("Content-Type", strings.Replace(req.Header.Get("Content-Type"), "multipart/form-data", "Multipart/Form-Data", 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req.WithContext(ctx))
	if rec.Body.Len() != 0 {
		t.Errorf("an upload was read while %d others were: answered %q", maxUploads, rec.Body.String())
	}
	if n := len(f.outbox()); n != 0 {
		t.Errorf("%d rows queued, want none", n)
	}
	// Its turn come, it goes as any upload.
	for range maxUploads {
		<-f.h.uploads
	}
	req = multipartRequest(t, "sendDocument", map[string]string{"chat_id": "5023003345"}, "document", "a.txt", []byte("hi"))
	req.Header.Set("Content-Type", strings.Replace(req.Header.Get("Content-Type"), "multipart/form-data", "Multipart/Form-Data", 1))
	if a := f.do(req); !a.OK {
		t.Errorf("the upload in its turn: %+v", a)
	}
}
