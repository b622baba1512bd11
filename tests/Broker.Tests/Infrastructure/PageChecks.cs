using Microsoft.Playwright;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// Checks every console and connect page takes in Chromium: axe-core (tests/Axe, pinned by its lock file) finds no
/// accessibility violation, the page has one <c>main</c> landmark, and nothing forces sideways scrolling at the viewport's width.
/// axe is injected as a script, so the context must bypass the pages' Content-Security-Policy (<see cref="BrowserFixture.NewContextAsync"/>).
/// </summary>
public static class PageChecks
{
    private static readonly string AxeScript = Path.Combine(PostgresServer.RepoRoot(), "tests", "Axe", "node_modules", "axe-core", "axe.min.js");

    public static async Task AssertAccessibleAsync(IPage page)
    {
        if (!File.Exists(AxeScript))
        {
            throw new InvalidOperationException($"{AxeScript} is missing: `./broker.sh test` installs it (npm ci in tests/Axe).");
        }
        await page.AddScriptTagAsync(new() { Path = AxeScript });
        var violations = await page.EvaluateAsync<string>("""
            async () => JSON.stringify((await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }))
              .violations.map(v => `${v.id} (${v.impact}): ${v.help}\n` + v.nodes.map(n => `  ${n.target.join(' ')}: ${n.failureSummary}`).join('\n')))
            """);
        Assert.True(violations == "[]", $"axe on {page.Url}:\n{string.Join("\n", System.Text.Json.JsonSerializer.Deserialize<string[]>(violations)!)}");
        Assert.Equal(1, await page.Locator("main").CountAsync());
    }

    /// <summary>The document is no wider than the viewport: wide tables scroll inside their own box, not the page.</summary>
    public static async Task AssertNoSidewaysScrollAsync(IPage page)
    {
        var widths = await page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, window.innerWidth]");
        if (widths[0] > widths[1])
        {
            // Name the culprits: the outermost elements that reach past the right edge, outside a box that scrolls by itself.
            var wide = await page.EvaluateAsync<string[]>("""
                () => [...document.querySelectorAll('body *')]
                  .filter(e => e.getBoundingClientRect().right > window.innerWidth && !e.parentElement.closest('.scroll') && e.parentElement.getBoundingClientRect().right <= window.innerWidth)
                  .slice(0, 5).map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + e.className : ''} (${Math.round(e.getBoundingClientRect().right)} px): ${e.textContent.trim().slice(0, 60)}`)
                """);
            Assert.Fail($"{page.Url} is {widths[0]} px wide in a {widths[1]} px viewport:\n{string.Join("\n", wide)}");
        }
    }

    public static Task ScreenshotAsync(IPage page, string name) => page.ScreenshotAsync(new PageScreenshotOptions
    {
        Path = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots", name),
        FullPage = true,
    });
}
