package telegramtest

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkSendMessage pushes multipart sends (as go-telegram/bot makes them) over
// many chats in parallel, with limits scaled far up, and reports messages/s.
func BenchmarkSendMessage(b *testing.B) {
	s := New(Options{Token: testToken, Limits: &Limits{Global: 1_000_000, PerChatPerSecond: 1_000_000, PerGroupPerMinute: 1_000_000}})
	defer s.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var chat atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			_ = mw.WriteField("chat_id", strconv.FormatInt(-chat.Add(1)%500-1, 10))
			_ = mw.WriteField("text", "<b>Build #1</b> failed on <code>linux</code>")
			_ = mw.WriteField("parse_mode", "HTML")
			_ = mw.WriteField("reply_markup", `{"inline_keyboard":[[{"text":"Rebuild","callback_data":"rebuild:1"}]]}`)
			_ = mw.Close()
			resp, err := client.Post(s.URL()+"/bot"+testToken+"/sendMessage", mw.FormDataContentType(), &buf)
			if err != nil {
				b.Error(err)
				return
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(len(s.AllSent()))/b.Elapsed().Seconds(), "msgs/s")
}
