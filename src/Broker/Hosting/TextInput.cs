using System.ComponentModel.DataAnnotations;

namespace Broker.Hosting;

/// <summary>
/// Rules for text that enters Broker, from people or from Tesla. Control characters are refused in input
/// (a 400 before any row is written): Postgres cannot store NUL (22021), a CR/LF in a slug or label ends up in a
/// Location header or a log line, and a slug's regex <c>$</c> matches before a final newline. Text that Tesla or an
/// identity provider sends is cleaned instead, so one odd display name does not fail a whole connect.
/// </summary>
public static class TextInput
{
    /// <summary>
    /// True when <paramref name="text"/> holds a control character (C0, DEL, C1; line breaks and tabs only where allowed) or
    /// an invisible character that changes how text reads: Unicode line and paragraph separators, bidi embeddings, overrides
    /// and isolates (an owner's car named with U+202E showed reversed on the operator's screen), zero-width space, word
    /// joiner and byte-order mark. Joiners inside emoji and scripts (U+200C, U+200D) and direction marks stay allowed.
    /// </summary>
    public static bool HasControl(string? text, bool allowLineBreaks = false) =>
        text is not null && text.Any(c => IsForbidden(c) && !(allowLineBreaks && c is '\r' or '\n' or '\t'));

    /// <summary>Drops those characters from text sent by someone else (Tesla, an identity provider); null stays null.</summary>
    public static string? Clean(string? text) =>
        text is null || !HasControl(text) ? text : string.Concat(text.Where(c => !IsForbidden(c)));

    private static bool IsForbidden(char c) =>
        char.IsControl(c) || c is '\u2028' or '\u2029' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u200B' or '\u2060' or '\uFEFF';

    public const string SingleLineMessage = "The {0} field must not contain control or invisible characters (tabs, line breaks, NUL, bidi overrides…).";
}

/// <summary>A one-line text field: no control character at all (see <see cref="TextInput"/>).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter | AttributeTargets.Field)]
public sealed class SingleLineAttribute() : ValidationAttribute(TextInput.SingleLineMessage)
{
    public override bool IsValid(object? value) => value is not string text || !TextInput.HasControl(text);
}

/// <summary>A multi-line text field (a PEM key): line breaks and tabs, but no other control character.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter | AttributeTargets.Field)]
public sealed class MultiLineAttribute() : ValidationAttribute("The {0} field must not contain control characters other than line breaks.")
{
    public override bool IsValid(object? value) => value is not string text || !TextInput.HasControl(text, allowLineBreaks: true);
}
