using TeslaSimulator.Control;
using TeslaSimulator.State;

namespace TeslaSimulator.Auth;

/// <summary>Tesla's consent management page, reduced to what matters: sign in and revoke one client's access.</summary>
internal static class RevokeConsentEndpoints
{
    public static IEndpointRouteBuilder MapRevokeConsent(this IEndpointRouteBuilder app)
    {
        app.MapGet("/user/revoke/consent", (string? revoke_client_id, string? back_url, SimulatorState state) =>
            Page(state, revoke_client_id, back_url));
        app.MapPost("/user/revoke/consent", RevokeAsync);
        return app;
    }

    private static IResult Page(SimulatorState state, string? clientId, string? backUrl, string? error = null)
    {
        var name = clientId is not null && state.Clients.TryGetValue(clientId, out var c) ? c.Name : clientId ?? "";
        return AuthPages.Html("Manage third-party access", $"""
            <h1>Revoke access for {AuthPages.E(name)}</h1>
            {(error is null ? "" : $"<p class=\"error\">{AuthPages.E(error)}</p>")}
            <form method="post" action="/user/revoke/consent">
              <input type="hidden" name="revoke_client_id" value="{AuthPages.E(clientId)}">
              <input type="hidden" name="back_url" value="{AuthPages.E(backUrl)}">
              <label for="email">Email</label><input id="email" type="email" name="identity">
              <label for="password">Password</label><input id="password" type="password" name="credential">
              <button class="primary" type="submit">Revoke access</button>
            </form>
            """);
    }

    private static async Task<IResult> RevokeAsync(HttpContext ctx, SimulatorState state, AuthStore store)
    {
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var clientId = form["revoke_client_id"].ToString();
        var backUrl = form["back_url"].ToString();
        lock (state.Gate)
        {
            var account = state.AccountByEmail(form["identity"].ToString());
            ctx.SetAccount(account?.Email);
            if (account is null || account.Password != form["credential"])
                return Page(state, clientId, backUrl, "The email or password you entered is incorrect.");
            state.RevokeConsents(account, clientId);
            store.KillRefreshTokens(account, clientId);
        }
        if (Uri.TryCreate(backUrl, UriKind.Absolute, out var back) && back.Scheme is "http" or "https")
            return TypedResults.Redirect(back.ToString());
        return AuthPages.Html("Access revoked", "<h1>Access revoked</h1><p>The application can no longer access your account.</p>");
    }
}
