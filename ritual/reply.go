package ritual

import (
	"fmt"

	"github.com/wxclub/wxclub/templates"
)

// replies renders what the bot says, from the embedded templates.
type replies struct {
	texts *templates.Set
}

// render renders a reply template with the merchant's name and extra data.
func (c *replies) render(m *Merchant, name string, extra map[string]any) (Reply, error) {
	data := map[string]any{"Merchant": m.Name}
	for k, v := range extra {
		data[k] = v
	}
	text, err := c.texts.Render(name, data)
	if err != nil {
		return Reply{}, fmt.Errorf("ritual: reply %s: %w", name, err)
	}
	return Reply{Text: text}, nil
}
