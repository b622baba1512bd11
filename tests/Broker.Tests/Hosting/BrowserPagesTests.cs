using System.Net;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Hosting;

/// <summary>A person's browser gets pages (a landing page at /, HTML errors); API clients keep getting problem+json.</summary>
public sealed class BrowserPagesTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string BrowserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    [Fact]
    public async Task TheRootIsALandingPageThatSendsPeopleToTheirLinkAndOperatorsToTheConsole()
    {
        var page = await GetAsync("/", BrowserAccept);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync(Ct);
        Assert.Contains("Connecting your Tesla account?", html);
        Assert.Contains("href=\"/console\"", html);
        Assert.Contains("default-src 'none'", page.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Theory]
    [InlineData("/no-such-page")]
    [InlineData("/console/no-such-page/deeper")]
    [InlineData("/connect")]
    public async Task AnUnknownAddressIsAnHtmlPageForABrowserAndProblemJsonForEveryoneElse(string path)
    {
        var browser = await GetAsync(path, BrowserAccept);
        Assert.Equal("text/html", browser.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Page not found", await browser.Content.ReadAsStringAsync(Ct));
        Assert.Contains("frame-ancestors 'none'", browser.Headers.GetValues("Content-Security-Policy").Single());

        var client = await GetAsync(path, "application/json");
        Assert.Equal(HttpStatusCode.NotFound, client.StatusCode);
        Assert.Equal("application/problem+json", client.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task TheApiStaysProblemJsonEvenForABrowser()
    {
        var response = await GetAsync("/api/v1/no-such", BrowserAccept);

        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string accept)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Accept", accept);
        return await Broker.CreateClient(new() { AllowAutoRedirect = false }).SendAsync(request, Ct);
    }
}
