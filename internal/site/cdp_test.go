package site

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearcutt/clearcutt/internal/testenv"
)

// browser is headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: NUL-terminated JSON messages, commands
// on fd 3, responses and events on fd 4).
type browser struct {
	cmd    *exec.Cmd
	w      io.WriteCloser
	stderr *bytes.Buffer

	mu        sync.Mutex
	nextID    int
	pending   map[int]chan cdpMessage
	listeners map[string]func(cdpMessage) // by session id
	readErr   error
	done      chan struct{}
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// startBrowser starts Debian's chromium, or skips (fails with
// CLEARCUTT_REQUIRE_TOOLS=1) when it is not installed.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := testenv.Need(t, "chromium", "apt-get install chromium")
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{
		w: cmdW, stderr: &bytes.Buffer{}, pending: map[int]chan cdpMessage{},
		listeners: map[string]func(cdpMessage){}, done: make(chan struct{}),
	}
	b.cmd = exec.Command(bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--remote-debugging-pipe", "--user-data-dir="+t.TempDir(),
		"--no-first-run", "--no-default-browser-check", "--no-proxy-server",
		"--disable-extensions", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-default-apps", "--mute-audio", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, evW}
	// No proxy variables, no certificate overrides: only what the test sets.
	b.cmd.Env = testenv.CleanEnv()
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	evW.Close()
	go b.read(evR)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.call(ctx, "", "Browser.close", nil, nil)
		cmdW.Close()
		exited := make(chan struct{})
		go func() { b.cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			b.cmd.Process.Kill()
			<-exited
		}
		evR.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var v struct {
		Product string `json:"product"`
	}
	if err := b.call(ctx, "", "Browser.getVersion", nil, &v); err != nil {
		t.Fatalf("chromium did not answer on the DevTools pipe: %v\n%s", err, b.stderr)
	}
	t.Logf("driving %s", v.Product)
	return b
}

func (b *browser) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	var err error
	for {
		var line []byte
		line, err = br.ReadBytes(0)
		if err != nil {
			break
		}
		var m cdpMessage
		if err = json.Unmarshal(line[:len(line)-1], &m); err != nil {
			break
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.pending[m.ID]; ok {
				delete(b.pending, m.ID)
				ch <- m
			}
		} else if l, ok := b.listeners[m.SessionID]; ok {
			l(m)
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.readErr = err
	b.mu.Unlock()
	close(b.done)
}

// call sends one command (to a page session, or the browser when session
// is empty) and decodes its result into out.
func (b *browser) call(ctx context.Context, session, method string, params, out any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := b.w.Write(append(data, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("%s: chromium closed the pipe: %v\n%s", method, b.readErr, b.stderr)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// pageFacts is what a loaded page reports about itself.
type pageFacts struct {
	Title   string   `json:"title"`
	H1      string   `json:"h1"`
	Tables  int      `json:"tables"`
	Scripts int      `json:"scripts"`
	Badges  []string `json:"badges"`
	// Styled is true when style.css applied (the header's background).
	Styled bool       `json:"styled"`
	SVGs   []svgFacts `json:"svgs"`
	Links  []linkRef  `json:"links"`
	IDs    []string   `json:"ids"`
	Text   string     `json:"text"`
	// Handlers counts elements with an on* attribute.
	Handlers int `json:"handlers"`
	// Height is the page's height in CSS pixels.
	Height float64 `json:"height"`
}

type svgFacts struct {
	Title  string   `json:"title"`
	Desc   string   `json:"desc"`
	Labels string   `json:"labelledBy"`
	Rects  int      `json:"rects"`
	Texts  []string `json:"texts"`
	Width  float64  `json:"width"`
}

type linkRef struct {
	Tag  string `json:"tag"`
	Attr string `json:"attr"`
	Raw  string `json:"raw"`
	URL  string `json:"url"`
}

const factsJS = `JSON.stringify({
  title: document.title,
  h1: (document.querySelector('h1') || {}).textContent || '',
  tables: document.querySelectorAll('table').length,
  scripts: document.scripts.length,
  badges: Array.from(document.querySelectorAll('.badge')).map(e => e.textContent.trim()),
  styled: getComputedStyle(document.querySelector('header.site')).backgroundColor === 'rgb(15, 23, 42)',
  svgs: Array.from(document.querySelectorAll('svg')).map(s => ({
    title: (s.querySelector(':scope > title') || {}).textContent || '',
    desc: (s.querySelector(':scope > desc') || {}).textContent || '',
    labelledBy: s.getAttribute('aria-labelledby') || '',
    rects: s.querySelectorAll('rect').length,
    texts: Array.from(s.querySelectorAll('text')).map(e => e.textContent),
    width: s.getBoundingClientRect().width,
  })),
  links: Array.from(document.querySelectorAll('[href], [src]')).map(e => {
    const attr = e.hasAttribute('href') ? 'href' : 'src';
    const raw = e.getAttribute(attr);
    return {tag: e.tagName.toLowerCase(), attr, raw, url: new URL(raw, document.baseURI).href};
  }),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  text: document.body.innerText,
  height: document.documentElement.scrollHeight,
  handlers: Array.from(document.querySelectorAll('*')).filter(e => Array.from(e.attributes).some(a => a.name.startsWith('on'))).length,
})`

// visit loads url in a new tab and returns the page's facts and every
// problem seen while loading it: console errors and warnings, uncaught
// exceptions, failed requests, HTTP errors and dialogs.
func (b *browser) visit(url string) (pageFacts, []string, error) { return b.visitShot(url, "") }

// visitShot is visit, and when shot is not empty it also writes a PNG of
// the whole page, 1280 CSS pixels wide, to shot.
func (b *browser) visitShot(url, shot string) (pageFacts, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return pageFacts{}, nil, err
	}
	defer b.call(context.Background(), "", "Target.closeTarget", map[string]any{"targetId": target.TargetID}, nil)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return pageFacts{}, nil, err
	}
	var (
		mu       sync.Mutex
		problems []string
		requests = map[string]string{}
	)
	loaded := make(chan struct{})
	var once sync.Once
	problem := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	b.mu.Lock()
	b.listeners[att.SessionID] = func(m cdpMessage) {
		switch m.Method {
		case "Page.loadEventFired":
			once.Do(func() { close(loaded) })
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string            `json:"type"`
				Args []json.RawMessage `json:"args"`
			}
			json.Unmarshal(m.Params, &p)
			if p.Type == "error" || p.Type == "assert" || p.Type == "warning" {
				problem("console.%s: %s", p.Type, m.Params)
			}
		case "Runtime.exceptionThrown":
			problem("uncaught exception: %s", m.Params)
		case "Log.entryAdded":
			var p struct {
				Entry struct {
					Level, Text, URL string
				} `json:"entry"`
			}
			json.Unmarshal(m.Params, &p)
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				problem("console %s: %s (%s)", p.Entry.Level, p.Entry.Text, p.Entry.URL)
			}
		case "Network.requestWillBeSent":
			var p struct {
				RequestID string `json:"requestId"`
				Request   struct {
					URL string `json:"url"`
				} `json:"request"`
			}
			json.Unmarshal(m.Params, &p)
			mu.Lock()
			requests[p.RequestID] = p.Request.URL
			mu.Unlock()
		case "Network.loadingFailed":
			var p struct {
				RequestID string `json:"requestId"`
				ErrorText string `json:"errorText"`
				Blocked   string `json:"blockedReason"`
			}
			json.Unmarshal(m.Params, &p)
			mu.Lock()
			u := requests[p.RequestID]
			mu.Unlock()
			problem("request failed: %s: %s %s", u, p.ErrorText, p.Blocked)
		case "Network.responseReceived":
			var p struct {
				Response struct {
					URL    string `json:"url"`
					Status int    `json:"status"`
				} `json:"response"`
			}
			json.Unmarshal(m.Params, &p)
			if p.Response.Status >= 400 {
				problem("HTTP %d: %s", p.Response.Status, p.Response.URL)
			}
		case "Page.javascriptDialogOpening":
			problem("dialog opened: %s", m.Params)
		}
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.listeners, att.SessionID)
		b.mu.Unlock()
	}()
	for _, m := range []string{"Runtime.enable", "Log.enable", "Network.enable", "Page.enable"} {
		if err := b.call(ctx, att.SessionID, m, nil, nil); err != nil {
			return pageFacts{}, nil, err
		}
	}
	if shot != "" {
		if err := b.call(ctx, att.SessionID, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
			return pageFacts{}, nil, err
		}
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call(ctx, att.SessionID, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return pageFacts{}, nil, err
	}
	if nav.ErrorText != "" {
		return pageFacts{}, nil, fmt.Errorf("navigating to %s: %s", url, nav.ErrorText)
	}
	select {
	case <-loaded:
	case <-ctx.Done():
		return pageFacts{}, problems, fmt.Errorf("%s: no load event: %w", url, ctx.Err())
	}
	var ev struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
		ExceptionDetails json.RawMessage `json:"exceptionDetails"`
	}
	if err := b.call(ctx, att.SessionID, "Runtime.evaluate", map[string]any{"expression": factsJS, "returnByValue": true}, &ev); err != nil {
		return pageFacts{}, nil, err
	}
	if len(ev.ExceptionDetails) > 0 {
		return pageFacts{}, nil, fmt.Errorf("%s: reading the page: %s", url, ev.ExceptionDetails)
	}
	var f pageFacts
	if err := json.Unmarshal([]byte(ev.Result.Value), &f); err != nil {
		return pageFacts{}, nil, fmt.Errorf("%s: %w", url, err)
	}
	if shot != "" {
		if err := b.screenshot(ctx, att.SessionID, shot); err != nil {
			return pageFacts{}, nil, err
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return f, append([]string(nil), problems...), nil
}

// textHas reports whether the page text holds s, ignoring how the
// browser broke lines.
func textHas(text, s string) bool {
	return strings.Contains(strings.Join(strings.Fields(text), " "), strings.Join(strings.Fields(s), " "))
}

// screenshot writes a PNG of the whole page of a session to path, and one
// of its top to path with -top before .png.
func (b *browser) screenshot(ctx context.Context, session, path string) error {
	var lm struct {
		Content struct {
			Width  float64 `json:"width"`
			Height float64 `json:"height"`
		} `json:"cssContentSize"`
	}
	if err := b.call(ctx, session, "Page.getLayoutMetrics", nil, &lm); err != nil {
		return err
	}
	var shot struct {
		Data []byte `json:"data"` // base64 in JSON
	}
	// The whole page, and its first screenful (what a reader sees first).
	for _, s := range []struct {
		path   string
		height float64
	}{{path, lm.Content.Height}, {strings.TrimSuffix(path, ".png") + "-top.png", min(lm.Content.Height, 1100)}} {
		clip := map[string]any{"x": 0, "y": 0, "width": lm.Content.Width, "height": s.height, "scale": 1}
		if err := b.call(ctx, session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true, "clip": clip}, &shot); err != nil {
			return err
		}
		if err := os.WriteFile(s.path, shot.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
