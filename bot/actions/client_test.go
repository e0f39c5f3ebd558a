package actions_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/actions"
	"github.com/herald-ci/herald/commands"
)

const secret = "s3cr3t-deploy-hook"

// receiver checks every request's signature with the shared secret, as a real receiver
// would, and answers with reply.
func receiver(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, body []byte)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !actions.Verify(secret, body, r.Header.Get(actions.SignatureHeader)) || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		reply(w, r, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func call(args ...string) commands.ActionCall {
	return commands.ActionCall{Action: "deploy", Args: args, UserID: 42, UserName: "ann", ChatID: -1001, ChatType: "supergroup",
		ThreadID: 7, MessageID: 99, At: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
}

func TestCallActionSignedBodyAndAnswer(t *testing.T) {
	var got []byte
	srv := receiver(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		got = body
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"deploying <api>","buttons":[[{"text":"Logs","url":"https://ops.example.com/l/1"},{"text":"Undo","data":"undo 1"}]]}`)
	})
	c := actions.NewClient([]actions.Endpoint{{Name: "deploy", URL: srv.URL, Secret: secret}}, nil, "test")
	ans, err := c.CallAction(context.Background(), call("api", "v2"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action":"deploy","args":["api","v2"],"user":{"id":42,"username":"ann"},"chat":{"id":-1001,"type":"supergroup","thread":7},"message_id":99,"at":"2026-12-01T12:00:00Z"}`
	if string(got) != want {
		t.Fatalf("body\n%s\nwant\n%s", got, want)
	}
	if ans.Text != "deploying <api>" || len(ans.Buttons) != 1 || ans.Buttons[0][0].URL != "https://ops.example.com/l/1" || ans.Buttons[0][1].Data != "undo 1" {
		t.Fatalf("answer: %+v", ans)
	}

	// No args: an empty list, not null; a press adds its data.
	c2 := call()
	c2.Data = "undo 1"
	if _, err := c.CallAction(context.Background(), c2); err != nil {
		t.Fatal(err)
	}
	var b actions.ActionBody
	if err := json.Unmarshal(got, &b); err != nil || b.Args == nil || len(b.Args) != 0 || b.Data != "undo 1" || !strings.Contains(string(got), `"args":[]`) {
		t.Fatalf("press body: %s (%v)", got, err)
	}
}

// A wrong secret is what the receiver refuses: the signature really depends on it.
func TestCallActionWrongSecretRefused(t *testing.T) {
	srv := receiver(t, func(w http.ResponseWriter, _ *http.Request, body []byte) { _, _ = io.WriteString(w, "ok") })
	c := actions.NewClient([]actions.Endpoint{{Name: "deploy", URL: srv.URL, Secret: "another-secret"}}, nil, "test")
	_, err := c.CallAction(context.Background(), call())
	var se *commands.ActionStatusError
	if !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("err = %v; want the receiver's 401", err)
	}
	if strings.Contains(err.Error(), "another-secret") {
		t.Fatalf("the error holds the secret: %v", err)
	}
}

func TestCallActionFailures(t *testing.T) {
	block := make(chan struct{})
	var unblock sync.Once
	for _, tc := range []struct {
		name  string
		reply func(w http.ResponseWriter, r *http.Request, body []byte)
		check func(error) bool
	}{
		{"500", func(w http.ResponseWriter, _ *http.Request, _ []byte) { http.Error(w, "boom", 500) }, func(err error) bool {
			var se *commands.ActionStatusError
			return errors.As(err, &se) && se.Status == 500
		}},
		{"bad json", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"text": 3}`)
		}, func(err error) bool { return errors.Is(err, commands.ErrActionAnswer) }},
		{"too big", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			_, _ = io.WriteString(w, strings.Repeat("x", 70<<10))
		},
			func(err error) bool { return errors.Is(err, commands.ErrActionAnswer) }},
		{"timeout", func(w http.ResponseWriter, _ *http.Request, _ []byte) { <-block }, func(err error) bool {
			return errors.Is(err, context.DeadlineExceeded)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := receiver(t, tc.reply)
			if tc.name == "timeout" {
				t.Cleanup(func() { unblock.Do(func() { close(block) }) }) // before the server closes
			}
			c := actions.NewClient([]actions.Endpoint{{Name: "deploy", URL: srv.URL + "/hook?key=" + secret, Secret: secret}}, nil, "test")
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := c.CallAction(ctx, call())
			if !tc.check(err) {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error holds the secret (from the URL): %v", err)
			}
		})
	}
}

func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		want              string // the answer as JSON, or "error"
	}{
		{"plain", "text/plain; charset=utf-8", "all good", `{"Text":"all good","Buttons":null}`},
		{"no type", "", "hi", `{"Text":"hi","Buttons":null}`},
		{"json", "application/json", `{"text":"t"}`, `{"Text":"t","Buttons":null}`},
		{"unknown key", "application/json", `{"text":"t","html":true}`, "error"},
		{"button both", "application/json", `{"buttons":[[{"text":"a","url":"https://x","data":"d"}]]}`, "error"},
		{"button neither", "application/json", `{"buttons":[[{"text":"a"}]]}`, "error"},
		{"button js url", "application/json", `{"buttons":[[{"text":"a","url":"javascript:alert(1)"}]]}`, "error"},
		{"button no text", "application/json", `{"buttons":[[{"text":" ","data":"d"}]]}`, "error"},
		{"two values", "application/json", `{"text":"a"}{"text":"b"}`, "error"},
		{"not utf-8", "text/plain", "\xff", "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := actions.ParseAnswer(tc.ctype, []byte(tc.body))
			if tc.want == "error" {
				if !errors.Is(err, commands.ErrActionAnswer) {
					t.Fatalf("err = %v, answer %+v; want ErrActionAnswer", err, a)
				}
				return
			}
			got, _ := json.Marshal(a)
			if err != nil || string(got) != tc.want {
				t.Fatalf("= %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// FuzzParseAnswer: whatever a receiver answers, the parser returns an answer or
// ErrActionAnswer, and never a button that is both or neither a link and data.
func FuzzParseAnswer(f *testing.F) {
	f.Add("application/json", `{"text":"t","buttons":[[{"text":"a","url":"https://x.org"}]]}`)
	f.Add("text/plain", "hello")
	f.Add("application/json", `{"buttons":[[{"text":"a","data":"d"}],[]]}`)
	f.Fuzz(func(t *testing.T, ctype, body string) {
		a, err := actions.ParseAnswer(ctype, []byte(body))
		if err != nil {
			if !errors.Is(err, commands.ErrActionAnswer) {
				t.Fatalf("err %v is not ErrActionAnswer", err)
			}
			return
		}
		for _, row := range a.Buttons {
			for _, b := range row {
				if (b.URL == "") == (b.Data == "") || b.Text == "" {
					t.Fatalf("bad button passed: %+v", b)
				}
			}
		}
	})
}

// A redirect is not followed: the signed body must not be posted to wherever a 307 points.
func TestCallActionRedirectNotFollowed(t *testing.T) {
	var elsewhere sync.Mutex
	hits := 0
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Lock()
		hits++
		elsewhere.Unlock()
		_, _ = io.WriteString(w, "stolen")
	}))
	t.Cleanup(other.Close)
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		http.Redirect(w, r, other.URL+"/grab", http.StatusTemporaryRedirect)
	})
	c := actions.NewClient([]actions.Endpoint{{Name: "deploy", URL: srv.URL + "/hook", Secret: secret}}, nil, "test")
	_, err := c.CallAction(context.Background(), call())
	var se *commands.ActionStatusError
	if !errors.As(err, &se) || se.Status != http.StatusTemporaryRedirect {
		t.Fatalf("err = %v; want the 307 as the service's answer", err)
	}
	elsewhere.Lock()
	defer elsewhere.Unlock()
	if hits != 0 {
		t.Fatalf("the signed body was posted to the redirect's target %d times", hits)
	}
}
