package bot

import (
	"reflect"
	"testing"
	"unicode/utf16"

	"github.com/go-telegram/bot/models"
)

// cmdEntity marks the first occurrence of word in text the way Telegram does: offsets in
// UTF-16 code units.
func cmdEntity(text, word string) []models.MessageEntity {
	runes := []rune(text)
	w := []rune(word)
	for i := 0; i+len(w) <= len(runes); i++ {
		if string(runes[i:i+len(w)]) == word {
			off := len(utf16.Encode(runes[:i]))
			return []models.MessageEntity{{Type: models.MessageEntityTypeBotCommand, Offset: off, Length: len(utf16.Encode(w))}}
		}
	}
	return nil
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		entity   string // the bot_command Telegram would mark; "" for none
		wantOK   bool
		wantName string
		wantArgs []string
	}{
		{"plain", "/getid", "/getid", true, "getid", nil},
		{"addressed to herald", "/getid@Herald_Test_Bot", "/getid@Herald_Test_Bot", true, "getid", nil},
		{"addressed to another bot", "/getid@SomeOtherBot", "/getid@SomeOtherBot", false, "", nil},
		{"upper case", "/STATUS all", "/STATUS", true, "status", []string{"all"}},
		{"args", "/force  main   docs ", "/force", true, "force", []string{"main", "docs"}},
		{"quoted args", `/stop 12 "flaky test" 'one more'`, "/stop", true, "stop", []string{"12", "flaky test", "one more"}},
		{"phone quotes", "/stop 12 “flaky test”", "/stop", true, "stop", []string{"12", "flaky test"}},
		{"after emoji and cyrillic", "👋 Привет /status docs", "/status", true, "status", []string{"docs"}},
		{"no entity, leading slash", "/last docs", "", true, "last", []string{"docs"}},
		{"not a command", "hello /there", "", false, "", nil},
		{"bare slash", "/", "", false, "", nil},
		{"empty", "", "", false, "", nil},
		{"bad characters", "/sta-tus", "", false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ents []models.MessageEntity
			if tt.entity != "" {
				ents = cmdEntity(tt.text, tt.entity)
				if ents == nil {
					t.Fatalf("bad test: %q not in %q", tt.entity, tt.text)
				}
			}
			got, ok := ParseCommand(tt.text, ents, "herald_test_bot")
			if ok != tt.wantOK {
				t.Fatalf("ok = %v; want %v (got %+v)", ok, tt.wantOK, got)
			}
			if !ok {
				return
			}
			if got.Name != tt.wantName || !reflect.DeepEqual(got.Args, tt.wantArgs) {
				t.Errorf("got %q %q; want %q %q", got.Name, got.Args, tt.wantName, tt.wantArgs)
			}
		})
	}
}

func TestUTF16SpanOutOfRange(t *testing.T) {
	if _, _, ok := utf16Span("abc", 2, 5); ok {
		t.Error("span past the end accepted")
	}
	if _, _, ok := utf16Span("😀x", 1, 1); ok { // offset inside a surrogate pair
		t.Error("span inside a surrogate pair accepted")
	}
}

func FuzzParseCommand(f *testing.F) {
	f.Add("/getid@herald_test_bot a \"b c\"", 0, 6)
	f.Add("👋 /status", 3, 7)
	f.Add("“unclosed", 0, 1)
	f.Fuzz(func(t *testing.T, text string, off, length int) {
		ents := []models.MessageEntity{{Type: models.MessageEntityTypeBotCommand, Offset: off, Length: length}}
		cmd, ok := ParseCommand(text, ents, "herald_test_bot")
		if ok && (cmd.Name == "" || len(cmd.Name) > 32) {
			t.Fatalf("bad command name %q from %q", cmd.Name, text)
		}
		_ = SplitArgs(text)
	})
}
