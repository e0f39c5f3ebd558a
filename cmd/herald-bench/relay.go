package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/relay"
	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store"
)

const (
	relayBenchToken    = "bench-relay-token-0123456789"
	relayBenchMessages = 1000
	relayBenchChats    = 50 // half private chats, half supergroups (20 messages a minute each)
	relayBenchWorkers  = 8
)

// relayBurst: a tool posts 1,000 sendMessage calls to herald's relay as fast as it can, 20
// to each of 50 chats, while the sender delivers them to the fake Bot API with Telegram's
// limits (scaled by c.scale). The figure is how fast the relay takes calls, how long the
// burst takes to reach Telegram, and the checks: every call answered ok, every message
// delivered once and in order in its chat, and not one 429 provoked.
func relayBurst(ctx context.Context, st *store.Store, c config) error {
	var chats []int64
	for i := range relayBenchChats {
		if i%2 == 0 {
			chats = append(chats, int64(7000+i))
		} else {
			chats = append(chats, -1003000000000-int64(i))
		}
	}
	var (
		mu        sync.Mutex
		delivered = map[int64][]string{}
		last      time.Time
	)
	r, err := startRig(st, c, func(m telegramtest.Message) {
		mu.Lock()
		delivered[m.ChatID] = append(delivered[m.ChatID], m.Text)
		last = time.Now()
		mu.Unlock()
	})
	if err != nil {
		return err
	}
	defer r.stop()
	for _, id := range chats {
		typ := "private"
		if id < 0 {
			typ = "supergroup"
		}
		r.tg.AddChat(telegramtest.Chat{ID: id, Type: typ})
	}
	tok := relay.Token{Name: "bench", Secret: relayBenchToken}
	for _, id := range chats {
		tok.Chats = append(tok.Chats, relay.Chat{ID: id})
	}
	srv := httptest.NewServer(relay.New(st, relay.Options{Tokens: []relay.Token{tok}, Wake: r.sender.Wake}, zerolog.Nop()))
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := srv.URL + "/relay/" + relayBenchToken + "/sendMessage"

	// Message i goes to chat i mod 50, as its (i / 50)th there: each chat's texts are in order.
	text := func(i int) string {
		return fmt.Sprintf("launch %d of chat %d", i/relayBenchChats, chats[i%relayBenchChats])
	}
	start := time.Now()
	took, err := inParallel(relayBenchMessages, relayBenchWorkers, func(i int) error {
		return postRelayed(ctx, client, url, chats[i%relayBenchChats], text(i))
	})
	if err != nil {
		return err
	}
	floor := burstFloor(relayBenchMessages, relayBenchMessages/relayBenchChats, c.scale)
	deadline := time.Now().Add(3*floor + time.Minute)
	for {
		mu.Lock()
		n := 0
		for _, texts := range delivered {
			n += len(texts)
		}
		mu.Unlock()
		if n >= relayBenchMessages {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d relayed messages delivered by the deadline", n, relayBenchMessages)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	lost, out := 0, 0
	for j, id := range chats {
		got := delivered[id]
		for k := range relayBenchMessages / relayBenchChats {
			i := k*relayBenchChats + j
			if k >= len(got) {
				lost++
			} else if got[k] != text(i) {
				out++
			}
		}
		if extra := len(got) - relayBenchMessages/relayBenchChats; extra > 0 {
			return fmt.Errorf("chat %d got %d messages more than were relayed", id, extra)
		}
	}
	st429 := r.tg.Stats().RateLimited
	fmt.Printf("relay: %d sendMessage calls to %d chats (%d private, %d supergroups; %d concurrent) taken in %v: %.0f calls/s; "+
		"all delivered %v after the first call (Telegram's limits allow it in %v at the least); lost %d, out of order %d, 429s %d\n",
		relayBenchMessages, relayBenchChats, (relayBenchChats+1)/2, relayBenchChats/2, relayBenchWorkers,
		took.Round(time.Millisecond), float64(relayBenchMessages)/took.Seconds(),
		last.Sub(start).Round(time.Millisecond), floor.Round(time.Millisecond), lost, out, st429)
	if lost > 0 || out > 0 || st429 > 0 {
		return fmt.Errorf("relay burst: %d lost, %d out of order, %d 429s", lost, out, st429)
	}
	return nil
}

// postRelayed makes one sendMessage call the way a tool does and checks the answer is ok.
func postRelayed(ctx context.Context, client *http.Client, url string, chat int64, text string) error {
	body, err := json.Marshal(map[string]any{"chat_id": chat, "text": text})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var env struct {
		OK bool `json:"ok"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(answer, &env) != nil || !env.OK {
		return fmt.Errorf("relay answered %d %q", resp.StatusCode, answer)
	}
	return nil
}

// burstFloor is the least time Telegram's limits (scaled) allow for n messages, k to each
// chat, every chat a group at worst. The windows slide, so a window's worth goes at once and
// the next waits for the window to move on: the global rate's windows, one chat's at 1 a
// second, or a group's at 20 a minute, whichever take longest.
func burstFloor(n, k int, scale float64) time.Duration {
	windows := func(count int, perWindow float64) float64 {
		return math.Ceil(float64(count)/math.Floor(perWindow)) - 1
	}
	secs := max(windows(n, 30*scale), windows(k, max(1, scale)), 60*windows(k, 20*scale))
	return time.Duration(secs * float64(time.Second))
}
