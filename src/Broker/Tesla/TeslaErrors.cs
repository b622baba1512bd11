namespace Broker.Tesla;

/// <summary>
/// The auth server refused a grant, timed out or answered something unreadable. <see cref="Error"/>
/// is Tesla's OAuth error code (<c>invalid_auth_code</c>, <c>login_required</c>, ...) or one of ours:
/// <c>timeout</c>, <c>malformed_response</c>, <c>unreachable</c>. Never carries a token or a code.
/// </summary>
public sealed class TeslaAuthException(string error, int? status, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public string Error { get; } = error;
    public int? Status { get; } = status;

    /// <summary>The refresh token is dead: only a new sign-in at Tesla helps (TESLA.md §1.5).</summary>
    public bool NeedsReconnect => Error is "login_required" or "invalid_grant";
}

/// <summary>A Fleet API call failed with <see cref="Status"/> (TESLA.md §5.3) or could not be read.</summary>
public sealed class TeslaApiException(int? status, string? error, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public int? Status { get; } = status;
    public string? Error { get; } = error;

    /// <summary>Tesla's Retry-After on a 429 (it can be hours): no call to that device before it.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// Tesla disabled the developer app, not this device or account: 402 (payment required) or 403 "account disabled:
    /// EXCEEDED_LIMIT" (the billing limit; the real body is only <c>{"error": ...}</c>, with no Retry-After).
    /// </summary>
    public bool AppDisabled => Status == 402 || (Status == 403 && Error?.StartsWith("account disabled", StringComparison.OrdinalIgnoreCase) == true);
}

/// <summary>
/// Tesla refused the account's access token again right after a refresh (401 "unknown user", ...): refreshing more
/// will not help, so the poll stops and the account waits (<see cref="Accounts.TeslaAccount.TokenRejectedSince"/>).
/// </summary>
public sealed class TokenRejectedException(string? error) : Exception($"Tesla refuses the account's token even after a refresh ({error ?? "no error given"}).")
{
    public string? Error { get; } = error;
}
