using System.Net;
using System.Text.RegularExpressions;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.People;

/// <summary>
/// A person in a browser without script, signed in to the console through a real OpenID provider:
/// the broker's redirect, the provider's login form, the return to /signin-oidc.
/// </summary>
public sealed partial class ConsolePerson(BrokerApplication broker, HttpClient? browser = null)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public HttpClient Browser { get; } = browser ?? broker.CreateBrowser();

    /// <summary>This person's cookies at the provider: another person signing in is another browser.</summary>
    private readonly CookieContainer _providerCookies = new();

    public async Task<ConsolePerson> SignInAsync(OidcProviderHost provider, string email, string password)
    {
        var start = await Browser.GetAsync("/console/signin/start?returnUrl=%2Fconsole", Ct);
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        var back = await provider.SignInAsync(start.Headers.Location!, email, password, Ct, _providerCookies);
        var landed = await Browser.SendAsync(back, Ct);
        Assert.True(landed.StatusCode == HttpStatusCode.Redirect && landed.Headers.Location?.OriginalString == "/console",
            $"Sign-in as {email} ended with {(int)landed.StatusCode} {landed.Headers.Location}: {await landed.Content.ReadAsStringAsync(Ct)}\n{broker.Logs.All}");
        return this;
    }

    /// <summary>The antiforgery field of a console page this person can see.</summary>
    public async Task<KeyValuePair<string, string>> FormTokenAsync(string page = "/console")
    {
        var html = await Browser.GetStringAsync(page, Ct);
        var match = TokenPattern().Match(html);
        Assert.True(match.Success, $"No form token on {page}");
        return KeyValuePair.Create(match.Groups["name"].Value, WebUtility.HtmlDecode(match.Groups["value"].Value));
    }

    public async Task<HttpResponseMessage> PostFormAsync(string path, params KeyValuePair<string, string>[] fields) =>
        await Browser.PostAsync(path, new FormUrlEncodedContent([await FormTokenAsync(), .. fields]), Ct);

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<name>__RequestVerificationToken[^\"]*)\" value=\"(?<value>[^\"]*)\"")]
    private static partial Regex TokenPattern();
}
