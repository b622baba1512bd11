using Broker.Tesla;
using Microsoft.AspNetCore.Authentication;

namespace Broker.Connect;

/// <summary>A connect attempt that went wrong, in words a person can act on.</summary>
public sealed record ConnectFailure(string Reason, int HttpStatus, string Title, string Message)
{
    public static readonly ConnectFailure StateInvalid = new("state_invalid", 400,
        "This sign-in link can't be used",
        "The answer from Tesla did not match a connect attempt started in this browser (it may have been used already, or opened in another browser). Nothing was saved.");
    public static readonly ConnectFailure StateExpired = new("state_expired", 400,
        "This connect attempt expired",
        "Too much time passed between starting and finishing at Tesla. Nothing was saved.");
    public static readonly ConnectFailure Denied = new("access_denied", 403,
        "You declined access",
        "Tesla reports that access was not granted, so nothing was linked and nothing was saved.");
    public static readonly ConnectFailure Cancelled = new("login_cancelled", 400,
        "Sign-in was cancelled",
        "The sign-in at Tesla was cancelled, so nothing was linked and nothing was saved.");
    public static readonly ConnectFailure ResultUnavailable = new("result_unavailable", 404,
        "This page is not available here",
        "The result of a connect is shown for 30 minutes, and only in the browser that connected. If you connected your account, it stays linked; the service that sent you the link can tell you more.");
    public static readonly ConnectFailure TeslaRefused = new("tesla_refused", 502,
        "Tesla did not accept the sign-in",
        "Tesla refused to complete the sign-in (the code may have expired). Nothing was saved.");
    // Tesla sent the browser back with an OAuth error other than deny/cancel. The browser brought that answer to us, and
    // only the browser that started the attempt gets past the state check: a 4xx, never our "Tesla failed" 502.
    public static readonly ConnectFailure SignInError = new("tesla_sign_in_error", 400,
        "Tesla did not complete the sign-in",
        "Tesla sent you back with an error instead of a finished sign-in, so nothing was linked and nothing was saved. Please try again.");
    public static readonly ConnectFailure CodeInvalid = new("code_invalid", 400,
        "This sign-in answer can't be used",
        "The answer from Tesla carried a sign-in code that cannot be Tesla's, so it was not sent on. Nothing was saved.");
    public static readonly ConnectFailure TeslaUnavailable = new("tesla_unavailable", 504,
        "Tesla is not answering properly",
        "Tesla's service timed out or answered something we could not read. Nothing was saved.");
    public static readonly ConnectFailure RealmUnavailable = new("realm_unavailable", 400,
        "This Tesla sign-in is not available here",
        "This service is not set up to connect Tesla accounts from that region's sign-in. Nothing was saved.");
    public static readonly ConnectFailure LinkRevoked = new("link_revoked", 410,
        "This connect link is no longer valid",
        "The link was revoked by its owner. Ask them for a new one. Nothing was saved.");

    public static readonly ConnectFailure LinkUsed = new("link_used", 409,
        "This reconnect link has been used",
        "A reconnect link works once, and it has just been used to reconnect this account. Nothing more was changed.");

    public static readonly ConnectFailure LinkExpired = new("link_expired", 410,
        "This reconnect link has expired",
        "Reconnect links work for a limited time. Ask for a new one. Nothing was changed.");
    public static readonly ConnectFailure WrongTeslaAccount = new("wrong_tesla_account", 409,
        "That is a different Tesla account",
        "This link reconnects one particular Tesla account, and you signed in at Tesla as someone else. Nothing was changed. Sign out at Tesla and use the link again with the account it was sent for.");

    public static readonly ConnectFailure TeslaAppDisabled = new("tesla_app_disabled", 503,
        "Tesla has paused this service",
        "Tesla is refusing this service's requests for now (its usage limit), so your account could not be linked. Nothing was saved. The operator has been told; please try again later.");

    public static readonly ConnectFailure Internal = new("internal_error", 500,
        "Something went wrong on our side",
        "Broker could not finish linking your account. Nothing was saved; please try again in a moment.");

    public static ConnectFailure Classify(Exception? failure) => failure switch
    {
        ConnectException c => c.Failure,
        TeslaAuthException { Error: "timeout" or "unreachable" or "malformed_response" } or TeslaAuthException { Status: >= 500 } => TeslaUnavailable,
        // Tesla's 400 to the code exchange: the browser brought a code that is forged, replayed or expired. The
        // client's request was bad, not our gateway: a 4xx, so hostile callbacks never show up as server errors.
        TeslaAuthException { Status: 400 } => TeslaRefused with { HttpStatus = 400 },
        TeslaAuthException => TeslaRefused,
        TeslaApiException { AppDisabled: true } => TeslaAppDisabled,
        TeslaApiException { Error: "timeout" or "unreachable" or "malformed_response" } or TeslaApiException { Status: >= 500 } => TeslaUnavailable,
        TeslaApiException => TeslaRefused,
        _ when failure?.Data["error"] is "access_denied" => Denied,
        _ when failure?.Data["error"] is "login_cancelled" => Cancelled,
        // The handler turns any other `error` of the authorization response into this exception.
        Microsoft.IdentityModel.Protocols.OpenIdConnect.OpenIdConnectProtocolException when failure.Data["error"] is string { Length: > 0 } => SignInError,
        // The handler reports a missing, tampered, foreign or replayed state / correlation cookie.
        AuthenticationFailureException => StateInvalid,
        _ when failure?.Message.Contains("access was denied", StringComparison.OrdinalIgnoreCase) == true => Denied,
        _ when failure?.Message.Contains("state", StringComparison.OrdinalIgnoreCase) == true
            || failure?.Message.Contains("Correlation", StringComparison.OrdinalIgnoreCase) == true => StateInvalid,
        Microsoft.IdentityModel.Tokens.SecurityTokenException or Microsoft.IdentityModel.Protocols.OpenIdConnect.OpenIdConnectProtocolException => TeslaRefused,
        _ => Internal,
    };

    /// <summary>
    /// What goes in the log: exception type and Tesla's error code, never a token or a code. The callback's own
    /// <c>error</c> parameter is whatever the browser sent (40 kB, CR/LF): only a short OAuth-like value is logged as is.
    /// </summary>
    public string LogDetail(Exception? failure) => failure switch
    {
        TeslaAuthException a => $"token endpoint: {a.Error} {a.Status}",
        TeslaApiException f => $"fleet api: {f.Status} {f.Error}",
        null => "none",
        _ when failure.Data["error"] is string error => $"{failure.GetType().Name}: error={(IsOAuthErrorCode(error) ? error : $"<{error.Length} chars, not an OAuth error code>")}",
        _ => $"{failure.GetType().Name}: {failure.Message}",
    };

    private static bool IsOAuthErrorCode(string error) =>
        error.Length is > 0 and <= 64 && error.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-' or '.');
}

/// <summary>A connect failure we detected ourselves (expired state, revoked link).</summary>
public sealed class ConnectException(ConnectFailure failure, string message) : Exception(message)
{
    public ConnectFailure Failure { get; } = failure;
}
