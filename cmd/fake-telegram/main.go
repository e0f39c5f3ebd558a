// Command fake-telegram serves a fake Telegram Bot API on a fixed address so herald
// can be tried without a bot token. See package bot/telegramtest for the control API
// and usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/herald-ci/herald/bot/telegramtest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fake-telegram:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fake-telegram", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve the Bot API and /fake/ control API on")
	token := fs.String("token", "", "bot token the fake accepts (required)")
	username := fs.String("username", "herald_test_bot", "the bot's username")
	limits := fs.Bool("limits", false, "enforce Telegram's flood limits (30/s, 1/s per chat, 20/min per group)")
	strict := fs.Bool("strict-chats", false, "answer 'chat not found' for chats no user has written in")
	undecodable := fs.Bool("undecodable", false, "answer sendMessage and editMessageText ok:true with the date and chat id as strings, which strict clients cannot decode")
	verbose := fs.Bool("v", false, "log every Bot API request to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		return fmt.Errorf("-token is required")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	var out sync.Mutex
	opts := telegramtest.Options{
		Token:       *token,
		BotUsername: *username,
		StrictChats: *strict,
		OnMessage: func(m telegramtest.Message) {
			out.Lock()
			defer out.Unlock()
			verb := "sent"
			if m.Edits > 0 {
				verb = "edited"
			}
			fmt.Printf("[chat %d msg %d %s] %s\n", m.ChatID, m.MessageID, verb, m.Text)
			for _, row := range m.Keyboard {
				var b []string
				for _, btn := range row {
					b = append(b, fmt.Sprintf("[%s → %s%s]", btn.Text, btn.CallbackData, btn.URL))
				}
				fmt.Println("    " + strings.Join(b, " "))
			}
		},
	}
	if *limits {
		opts.Limits = telegramtest.DefaultLimits()
	}
	if *verbose {
		opts.Log = os.Stderr
	}

	srv := telegramtest.NewWithListener(opts, ln)
	defer srv.Close()
	srv.SetUndecodableResults(*undecodable)
	fmt.Fprintf(os.Stderr, "fake-telegram: Bot API at %s/bot<token>/<method>, control API at %s/fake/\n", srv.URL(), srv.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
