package commands

import "fmt"

// pageRows is how many choices one page of a keyboard shows. Telegram refuses a keyboard of
// more than 100 buttons (a master with 150 builders got no reply at all), and a dozen rows
// already fill a phone's screen.
const pageRows = 8

// paginate returns page page (from 0; clamped) of rows, one choice per row, with a row of ◀ ▶
// buttons under it when there is more than one page. nav gives the Data of a button that
// redraws the keyboard at another page: the page travels in the button's server-side
// payload, so nothing is kept between presses. It also returns the page shown and how many
// there are.
func paginate(rows [][]Button, page int, nav func(page int) string) (kb [][]Button, shown, pages int) {
	pages = (len(rows) + pageRows - 1) / pageRows
	if pages <= 1 {
		return rows, 0, 1
	}
	shown = min(max(page, 0), pages-1)
	end := min((shown+1)*pageRows, len(rows))
	kb = append(kb, rows[shown*pageRows:end]...)
	var arrows []Button
	if shown > 0 {
		arrows = append(arrows, Button{Text: "◀", Data: nav(shown - 1)})
	}
	if shown < pages-1 {
		arrows = append(arrows, Button{Text: "▶", Data: nav(shown + 1)})
	}
	return append(kb, arrows), shown, pages
}

// pageNote is what a question says about the page it shows: nothing for a single page.
func pageNote(shown, pages int) string {
	if pages <= 1 {
		return ""
	}
	return fmt.Sprintf(" (page %d of %d)", shown+1, pages)
}
