/** The MobileSync autodiscover answer: where the device finds /Microsoft-Server-ActiveSync. */
export function autodiscoverResponse(email: string, baseUrl: string): string {
  const esc = (s: string) => s.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006">
    <Culture>en:us</Culture>
    <User><EMailAddress>${esc(email)}</EMailAddress></User>
    <Action>
      <Settings>
        <Server>
          <Type>MobileSync</Type>
          <Url>${esc(baseUrl)}/Microsoft-Server-ActiveSync</Url>
          <Name>${esc(baseUrl)}/Microsoft-Server-ActiveSync</Name>
        </Server>
      </Settings>
    </Action>
  </Response>
</Autodiscover>
`;
}

/** The EMailAddress of an autodiscover request body, if any. */
export function requestedEmail(body: string): string | undefined {
  return /<EMailAddress>\s*([^<\s]+)\s*<\/EMailAddress>/i.exec(body)?.[1];
}
