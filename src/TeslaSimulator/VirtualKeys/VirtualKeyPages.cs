using System.Text;
using TeslaSimulator.State;
using static TeslaSimulator.Auth.AuthPages;

namespace TeslaSimulator.VirtualKeys;

/// <summary>The pairing pages: sign in, then one "Add key" button per car. Plain HTML forms like the auth pages.</summary>
internal static class VirtualKeyPages
{
    public const string NotRegistered = "application has not registered with Tesla";
    public const string NotGranted = "user has not granted this third-party app access";

    private static string Action(string domain) => $"/_ak/{Uri.EscapeDataString(domain)}";

    public static IResult SignIn(string domain, string? filter, IEnumerable<SimAccount> demoAccounts, string? error = null)
    {
        var hints = string.Join("", demoAccounts.Select(a => $"<li><code>{E(a.Email)}</code> / <code>{E(a.Password)}</code></li>"));
        return Html("Add Virtual Key", $"""
            <h1>Add a virtual key for {E(domain)}</h1>
            <p>Sign in to choose the vehicle that should accept commands from this application.</p>
            {(error is null ? "" : $"<p class=\"error\">{E(error)}</p>")}
            <form method="post" action="{E(Action(domain))}">
              <input type="hidden" name="filter" value="{E(filter)}">
              <label for="email">Email</label><input id="email" type="email" name="identity" autocomplete="username">
              <label for="password">Password</label><input id="password" type="password" name="credential" autocomplete="current-password">
              <button class="primary" type="submit" name="action" value="login">Sign In</button>
            </form>
            <div class="hint">Tesla simulator demo accounts:<ul>{hints}</ul></div>
            """);
    }

    public static IResult Vehicles(string domain, string? filter, PairingSession session, IEnumerable<(SimVehicle Vehicle, bool Paired)> cars, string? done = null)
    {
        var rows = new StringBuilder();
        foreach (var (v, paired) in cars)
        {
            var action = paired ? "<span class=\"granted\">Key added</span>" : $"""
                <form method="post" action="{E(Action(domain))}">
                  <input type="hidden" name="session" value="{E(session.Id)}"><input type="hidden" name="filter" value="{E(filter)}">
                  <input type="hidden" name="vin" value="{E(v.Vin)}">
                  <button class="primary" type="submit" name="action" value="add" style="width:auto;margin:0">Add key</button>
                </form>
                """;
            rows.Append($"<div class=\"scope\" style=\"justify-content:space-between;align-items:center\"><div>{E(v.Seed.DisplayName)}<small>{E(v.Vin)}</small></div>{action}</div>");
        }
        return Html("Add Virtual Key", $"""
            <h1>Add a virtual key for {E(domain)}</h1>
            <p>Signed in as <strong>{E(session.Account.Email)}</strong></p>
            {(done is null ? "" : $"<p class=\"granted\">{E(done)}</p>")}
            {(rows.Length == 0 ? "<p class=\"error\">No matching vehicle on this account.</p>" : rows.ToString())}
            <div class="hint">A real car also asks you to tap your key card on the console; the simulator pairs at once.</div>
            """);
    }

    /// <summary>What the Tesla app says when pairing cannot go ahead (TESLA.md §4.5 troubleshooting texts).</summary>
    public static IResult Refused(string reason, string detail) =>
        Html("Add Virtual Key", $"<h1>Unable to add key</h1><p class=\"error\">{E(reason)}</p><p class=\"hint\">{E(detail)}</p>", 409);
}
