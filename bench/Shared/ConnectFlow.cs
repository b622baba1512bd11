using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Bench;

/// <summary>
/// A person pressing "Connect Tesla" without a browser, as tests/Broker.Tests/Infrastructure/TeslaUser.cs
/// does: the broker's connect page and button with the person's own cookie jar (<c>broker</c>), the
/// simulator's sign-in and consent forms (all scopes), back to the broker's callback and its result page.
/// Times the callback request and the whole flow.
/// </summary>
public static class ConnectFlow
{
    public sealed record Timing(TimeSpan Callback, TimeSpan Total);

    public static async Task<Timing> RunAsync(HttpClient broker, HttpClient tesla, string linkToken, string email, string password, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var page = await (await Expect(HttpStatusCode.OK, broker.GetAsync($"/connect/{linkToken}", ct))).Content.ReadAsStringAsync(ct);
        var start = await Expect(HttpStatusCode.Redirect, broker.PostAsync($"/connect/{linkToken}/start",
            Form(("__RequestVerificationToken", Hidden(page, "__RequestVerificationToken"))), ct));
        var authorize = start.Headers.Location!;

        var loginPage = await (await Expect(HttpStatusCode.OK, tesla.GetAsync(authorize, ct))).Content.ReadAsStringAsync(ct);
        var login = await tesla.PostAsync(new Uri(authorize, "/oauth2/v3/authorize"), Form(
            ("transaction_id", Hidden(loginPage, "transaction_id")), ("identity", email), ("credential", password), ("action", "login")), ct);
        if (login.StatusCode != HttpStatusCode.Redirect)
        {
            var consentPage = await (await Expect(HttpStatusCode.OK, Task.FromResult(login))).Content.ReadAsStringAsync(ct);
            login = await Expect(HttpStatusCode.Redirect, tesla.PostAsync(new Uri(authorize, "/oauth2/v3/authorize/consent"), Form(
                ("transaction_id", Hidden(consentPage, "transaction_id")), ("action", "allow"), ("select_all", "true")), ct));
        }
        var back = login.Headers.Location!;

        var callbackStarted = Stopwatch.GetTimestamp();
        var landed = await Expect(HttpStatusCode.Redirect, broker.GetAsync(back.PathAndQuery, ct));
        var callback = Stopwatch.GetElapsedTime(callbackStarted);
        if (landed.Headers.Location?.OriginalString.Contains("/connect/result?r=") != true)
        {
            throw new InvalidOperationException($"{email}: the callback sent the browser to {landed.Headers.Location}, not to the result page.");
        }
        await (await Expect(HttpStatusCode.OK, broker.GetAsync(landed.Headers.Location, ct))).Content.ReadAsStringAsync(ct);
        return new Timing(callback, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Nearest-rank percentile of a sorted list.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));

    private static string Hidden(string html, string name) =>
        WebUtility.HtmlDecode(Regex.Match(html, $"name=\"{Regex.Escape(name)}\"[^>]*value=\"([^\"]*)\"").Groups[1].Value) is { Length: > 0 } v
            ? v
            : throw new InvalidOperationException($"No hidden field '{name}' in the page.");

    private static async Task<HttpResponseMessage> Expect(HttpStatusCode expected, Task<HttpResponseMessage> request)
    {
        var response = await request;
        if (response.StatusCode != expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            throw new InvalidOperationException($"Expected {(int)expected} from {response.RequestMessage?.RequestUri?.AbsolutePath}, got {(int)response.StatusCode}: {body[..Math.Min(300, body.Length)]}");
        }
        return response;
    }
}
