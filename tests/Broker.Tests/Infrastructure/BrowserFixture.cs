using Microsoft.Playwright;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// One headless Debian Chromium per test class (tests take a fresh context each). Playwright's own
/// browser download does not work here, so it drives the system package: a missing one fails the
/// tests loudly instead of skipping them.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"{ChromiumPath} not found: browser tests need Debian's chromium. Install it with `./broker.sh test` (it installs " +
                "missing prerequisites) or `apt-get install -y --no-install-recommends chromium`. `npx playwright install` does not work here.");
        }
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>
    /// A fresh profile: no cookies from another test. <paramref name="width"/> 390 is a phone. <paramref name="bypassCsp"/> lets a
    /// test inject axe-core (<see cref="PageChecks"/>). Waits are for elements and URLs, never for the network to go quiet, and
    /// their limits are generous, so a loaded machine makes a test slower, not red.
    /// </summary>
    public async Task<IBrowserContext> NewContextAsync(int width = 1024, bool bypassCsp = false)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = 800 },
            BypassCSP = bypassCsp,
        });
        context.SetDefaultTimeout(60_000);
        context.SetDefaultNavigationTimeout(90_000);
        return context;
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        _playwright?.Dispose();
    }
}
