using System.Net;
using System.Text.RegularExpressions;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// A person in a browser going through "Connect Tesla": the broker's pages with one cookie jar,
/// the simulator's sign-in and consent forms as plain HTML posts. Steps are exposed one by one so
/// tests can break the flow anywhere.
/// </summary>
public sealed partial class TeslaUser(HttpClient browser, SimulatorHost simulator, Func<IEnumerable<string>> brokerLog)
{
    public const string AllScopes = "*";

    public TeslaUser(BrokerApplication broker, SimulatorHost simulator) : this(broker.CreateBrowser(), simulator, () => broker.Logs.Lines) { }

    /// <summary>Keeps cookies and does not follow redirects (tests walk them); its base address is the broker.</summary>
    public HttpClient Browser { get; } = browser;

    /// <summary>
    /// Opens the connect page, presses the button (with <paramref name="realm"/> chosen, e.g. <c>cn</c>, when given);
    /// returns where the broker sends the browser (Tesla's authorize URL).
    /// </summary>
    public async Task<Uri> StartAsync(string linkToken, bool askMissing = false, string? realm = null)
    {
        var page = await Browser.GetAsync($"/connect/{linkToken}", Ct);
        Expect(HttpStatusCode.OK, page);
        var html = await page.Content.ReadAsStringAsync(Ct);
        var form = new Dictionary<string, string> { ["__RequestVerificationToken"] = Hidden(html, "__RequestVerificationToken") };
        if (askMissing)
        {
            form["missing"] = "true";
        }
        if (realm is not null)
        {
            form["realm"] = realm;
        }
        var start = await Browser.PostAsync($"/connect/{linkToken}/start", new FormUrlEncodedContent(form), Ct);
        Expect(HttpStatusCode.Redirect, start);
        return start.Headers.Location!;
    }

    /// <summary>Signs in at the simulator and answers the consent page; returns the redirect back to the broker.</summary>
    public async Task<Uri> SignInAndConsentAsync(Uri authorize, string email, string password, string[]? scopes = null, string action = "allow")
    {
        using var tesla = simulator.CreateControlClient();
        var loginPage = await tesla.GetStringAsync(authorize, Ct);
        var login = await tesla.PostAsync(new Uri(authorize, "/oauth2/v3/authorize"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["transaction_id"] = Hidden(loginPage, "transaction_id"), ["identity"] = email, ["credential"] = password,
            ["action"] = action == "cancel" ? "cancel" : "login",
        }), Ct);
        if (login.StatusCode == HttpStatusCode.Redirect)
        {
            return login.Headers.Location!;
        }
        var consentPage = await login.Content.ReadAsStringAsync(Ct);
        var consent = new List<KeyValuePair<string, string>> { new("transaction_id", Hidden(consentPage, "transaction_id")), new("action", action) };
        if (scopes is null)
        {
            consent.Add(new("select_all", "true"));
        }
        else
        {
            consent.AddRange(scopes.Select(s => new KeyValuePair<string, string>("scope", s)));
        }
        var answer = await tesla.PostAsync(new Uri(authorize, "/oauth2/v3/authorize/consent"), new FormUrlEncodedContent(consent), Ct);
        Assert.True(answer.StatusCode == HttpStatusCode.Redirect,
            $"Tesla's consent page answered {answer.StatusCode} for {email}: {WebUtility.HtmlDecode(Regex.Replace(await answer.Content.ReadAsStringAsync(Ct), "<[^>]+>", " "))}");
        return answer.Headers.Location!;
    }

    /// <summary>Follows Tesla's redirect back to the broker's callback.</summary>
    public Task<HttpResponseMessage> ReturnToBrokerAsync(Uri callback) => Browser.GetAsync(callback.PathAndQuery, Ct);

    /// <summary>The whole flow; returns the result page's HTML.</summary>
    public async Task<string> ConnectAsync(string linkToken, string email, string password, string[]? scopes = null, bool askMissing = false, string? realm = null)
    {
        var callback = await SignInAndConsentAsync(await StartAsync(linkToken, askMissing, realm), email, password, scopes);
        var landed = await ReturnToBrokerAsync(callback);
        Expect(HttpStatusCode.Redirect, landed);
        Assert.StartsWith("/connect/result?r=", landed.Headers.Location!.OriginalString);
        var result = await Browser.GetAsync(landed.Headers.Location, Ct);
        Expect(HttpStatusCode.OK, result);
        return await result.Content.ReadAsStringAsync(Ct);
    }

    /// <summary>Asserts a status; on a mismatch the failure shows the broker's warnings and errors.</summary>
    public void Expect(HttpStatusCode expected, HttpResponseMessage response)
    {
        if (response.StatusCode != expected)
        {
            var problems = brokerLog().Where(l => l.StartsWith("Warning") || l.StartsWith("Error") || l.StartsWith("Critical"));
            Assert.Fail($"Expected {expected} from {response.RequestMessage?.RequestUri}, got {response.StatusCode}. Broker said:\n{string.Join('\n', problems)}");
        }
    }

    public static string Hidden(string html, string name) =>
        WebUtility.HtmlDecode(Regex.Match(html, $"name=\"{Regex.Escape(name)}\"[^>]*value=\"([^\"]*)\"").Groups[1].Value) is { Length: > 0 } v
            ? v
            : throw new InvalidOperationException($"No hidden field '{name}' in the page.");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
}
