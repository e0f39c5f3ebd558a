package commands

import (
	"strings"
	"testing"
)

func TestButtonDataRoundTrip(t *testing.T) {
	b := btn{Act: "set", Conn: "bb", Sched: "force", Builder: "a:b/c", Field: "branch", Value: `"quoted" ünïcode`, Conv: 7, User: -3}
	got, err := parseBtn("force", b.data("force"))
	if err != nil || got != b {
		t.Fatalf("got %+v %v", got, err)
	}
	if ButtonCommand(StopData("bb", "9")) != "stop" {
		t.Fatal("StopData does not route to /stop")
	}
	if _, err := parseBtn("stop", b.data("force")); err == nil {
		t.Fatal("data of another command accepted")
	}
}

func FuzzParseBtn(f *testing.F) {
	for _, s := range []string{`force:{"a":"go","k":1,"u":2}`, `stop:{"a":"pick","c":"bb","id":"9"}`, "force:", "force:{", `force:{"a":""}`, "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseBtn("force", s)
		if err != nil {
			return
		}
		if b.Act == "" || !strings.HasPrefix(s, "force:") {
			t.Fatalf("%q accepted as %+v", s, b)
		}
		again, err := parseBtn("force", b.data("force"))
		if err != nil || again != b {
			t.Fatalf("%q: round trip %+v → %+v %v", s, b, again, err)
		}
	})
}
