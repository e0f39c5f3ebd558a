package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

func TestChatStyle(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	cards, loud, err := s.ChatStyle(ctx, 42)
	if err != nil || !cards || loud {
		t.Fatalf("style of an unknown chat = %v %v %v; want the defaults true false", cards, loud, err)
	}
	if err := s.SetChatStyle(ctx, 42, false, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetChatStyle on an unknown chat = %v; want ErrNotFound", err)
	}
	if err := s.SaveChat(ctx, store.Chat{ID: 42, Type: "private"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetChatStyle(ctx, 42, false, true); err != nil {
		t.Fatal(err)
	}
	if cards, loud, err = s.ChatStyle(ctx, 42); err != nil || cards || !loud {
		t.Fatalf("style = %v %v %v; want false true", cards, loud, err)
	}
	// A chat seen again keeps its style.
	if err := s.SaveChat(ctx, store.Chat{ID: 42, Type: "private", Title: "Ann"}); err != nil {
		t.Fatal(err)
	}
	if cards, loud, _ = s.ChatStyle(ctx, 42); cards || !loud {
		t.Fatalf("style changed by SaveChat: %v %v", cards, loud)
	}
}

func TestSaveTopicKeepsItsName(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.SaveChat(ctx, store.Chat{ID: -100, Type: "supergroup", IsForum: true}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Builds", ""} { // a later message without a name keeps it
		if err := s.SaveTopic(ctx, -100, 7, name); err != nil {
			t.Fatal(err)
		}
	}
	var name string
	if err := s.Pool().QueryRow(ctx, `SELECT name FROM forum_topics WHERE chat_id = -100 AND thread_id = 7`).Scan(&name); err != nil || name != "Builds" {
		t.Fatalf("topic name = %q, %v; want Builds", name, err)
	}
}
