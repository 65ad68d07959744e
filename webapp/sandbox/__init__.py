"""Provider sandbox: one HTTP server speaking the Flutterwave v3, VTpass, Paystack and Termii wire formats.

The app runs end to end with no API keys and no internet by pointing its real clients at it
(``runner.provider_settings(url)``; `make run` does this itself when no keys are set). It is also
the fault injector for tests and benchmarks. It is its own Flask app, never part of the product.

Start it: ``python -m webapp.sandbox --port 8001 [--host 127.0.0.1] [--latency S] [--fault-rate R]
[--seed N] [--timeout-hold S] [--webhook-base URL] [--quiet]``, or from Python
``runner.start_sandbox(port=None, **knobs)`` (a subprocess on a free port; ``.url``, ``.configure()``,
``.reset()``, ``.transactions()``, ``.stop()``). Credentials it accepts: ``keys.SANDBOX_CREDENTIALS``.
Wrong or missing credentials get 401 in the provider's own error envelope.

Flutterwave v3, base ``<sandbox>/flutterwave/v3`` (``Authorization: Bearer FLWSECK_TEST-sandbox``);
envelope ``{"status": "success"|"error", "message", "data"}``, amounts in naira (JSON numbers):
    GET  /bill-categories                 flat item list; filters power=1, cables=1, internet=1,
                                          water=1 (sandbox addition), biller_code=, country= (NG only)
    GET  /top-bill-categories             UTILITYBILLS (power and water), CABLEBILLS, INTSERVICE
    GET  /bills/<category>/billers        billers of a category
    GET  /billers/<biller_code>/items     items of a biller (same fields as bill-categories)
    GET  /bill-items/<item>/validate?code=<biller>&customer=<number>
                                          data.response_code "00", name, address, minimum, maximum,
                                          meter_type; outstanding (and amount) when the account owes
    POST /billers/<biller>/items/<item>/payment   {country, customer_id, amount, reference, callback_url}
    POST /bills                           older form: item by item_code, or ``type`` = item name
    GET  /bills/<tx_ref>?verbose=1        keyed by Flutterwave's tx_ref (or flw_ref); our reference is a 404.
                                          A completed bill has no data.status (as documented); a pending
                                          or failed one carries status; the token is in ``extra``
    GET  /bills?from=&to=&page=           the listing: summary, total, total_pages, and per-bill
                                          ``transactions`` (customer_reference, tx_ref, status, amount)
                                          unless the ``flw_listing_items`` knob is off
    POST /payments                        hosted checkout: data.link; GET /transactions/<id>/verify,
                                          GET /transactions/verify_by_reference?tx_ref=
  Pay answer: code "200", reference (ours), tx_ref and flw_ref (Flutterwave's), amount, fee,
  recharge_token ("1234 5678 ..." or null), no status (message "Bill payment is pending" when it is).
  After a purchase, ``singlebillpayment.status`` is POSTed to its callback_url with ``verif-hash``
  (``bill_webhooks``/``bill_webhook_delay`` knobs).

VTpass, base ``<sandbox>/vtpass/api``; GET with ``api-key`` + ``public-key``, POST with ``api-key``
+ ``secret-key`` headers; JSON or form bodies; amounts in naira:
    GET  service-categories, services?identifier=electricity-bill|tv-subscription|data|water-bill
         ("water-bill" is a sandbox addition), service-variations?serviceID= (``variations`` and
         VTpass's own spelling ``varations``; each variation also carries minimum/maximum_amount)
    POST merchant-verify {billersCode, serviceID, type}   content.Customer_Name, Address, Meter_Type,
         Min_Purchase_Amount/Minimum_Amount, Max_Purchase_Amount, and Customer_Arrears ("" when
         the account owes nothing, as VTpass's IKEDC example shows). An unknown customer is code
         "000" with content.error and WrongBillersCode true, as the real VTpass answers.
    POST pay {request_id, serviceID, billersCode, variation_code, amount, phone}
    POST requery {request_id}
  Codes: 000 processed (content.transactions.status delivered|pending|failed), 099 accepted as
  pending, 016 failed (the reason is in response_description and content.error), 013/017 amount
  below/above bounds, 014 request_id reused, 015 requery of an unknown request_id, 018 merchant
  balance too low (knob merchant_balance_kobo), 019 same serviceID + billersCode within
  duplicate_window seconds, 085 bad request_id, 087 bad credentials (HTTP 401), 091 not processed
  (a fault kind), 010/011/012 bad variation/arguments/serviceID. A token comes as purchased_code
  "Token : 1234 5678 ...", token (grouped), mainToken (20 digits), mainTokenUnits and units.
  request_id rule: the first 12 characters are Africa/Lagos time YYYYMMDDHHII of today (085
  otherwise; ``request_id_today_only`` off falls back to request_id_window_hours), then letters,
  digits, "-" or "_". A request_id of a later day that repeats an earlier one's suffix (plus
  ``R<n>``) counts as the same purchase for the test-number scripts. On a requery the token is
  also in content.transactions.extras.

Paystack, base ``<sandbox>/paystack`` (``Authorization: Bearer sk_test_sandbox``); amounts in kobo;
errors ``{"status": false, "message", "type", "code"}``:
    POST /transaction/initialize {email, amount, reference, callback_url, metadata}
         reference: letters, digits, "-", "." and "=" only; reused -> "Duplicate charge request"
    GET  /transaction/verify/<reference>  status pending (not yet paid) | success | failed | abandoned;
         unknown -> 404 code transaction_not_found
    POST /transaction/charge_authorization {email, amount, authorization_code, reference}
         the email must be the card owner's; ₦113.13 is declined (data.status "failed")
  429 with code rate_limited when the fault injector says so.
    POST /customer {email, first_name, last_name, phone}   data.customer_code, id; the same email
         answers the same customer
    POST /dedicated_account {customer: code or id, preferred_bank: "test-bank"}   data.account_number,
         account_name "PAYSTACK/<first> <last>", bank {name "Test Bank", id, slug}, active, customer;
         400 without the customer's names and phone, for another bank, or when the customer already
         has an active account there
    GET  /dedicated_account?customer=<id>&active=true   the customer's accounts
  A transfer into a dedicated account (``POST /_sandbox/transfer`` or the page ``/transfer/paystack``)
  is a successful transaction with channel "dedicated_nuban" and the account owner as customer;
  its ``charge.success`` is signed like a checkout's and may claim another amount than the record.

Transfers (payouts from the merchant balance to a bank account), on both gateways; see
``paystack_transfers.py`` and ``flutterwave_transfers.py`` for sources and our readings:
  Paystack (kobo): GET /bank?currency=NGN; GET /bank/resolve?account_number=&bank_code=;
    POST /transferrecipient {type: nuban, name, account_number, bank_code} (201; the same account
    gets the same recipient_code); POST /transfer {source: balance, amount, recipient, reference,
    reason} (reference: lowercase letters, digits, "-" and "_", at least 16; answer status
    "pending", message "Transfer has been queued"; a reused reference is 400 "Duplicate Transfer
    Reference"); GET /transfer/verify/<reference> (unknown: 404 "Transfer not found"), with
    fee_charged and, on a failure or reversal, gateway_response.
  Flutterwave v3 (naira): GET /banks/NG; POST /accounts/resolve {account_number, account_bank};
    POST /transfers {account_bank, account_number, amount, currency, reference, narration,
    callback_url} (answer status NEW, "Transfer Queued Successfully"; a reused reference is 400
    "Duplicate reference ..."); GET /transfers/<id> by Flutterwave's id only (no lookup by our
    reference, as v3 documents none). Statuses NEW, SUCCESSFUL, FAILED (complete_message
    "DISBURSE FAILED: ..."), REVERSED.
  Test accounts, any listed bank code (044, 023, 070, 011, 214, 058, 221, 232, 033, 035, 057):
    0690000031  "ADEBOLA ESTATE SERVICES LTD": the transfer succeeds
    0690000032  "OKONKWO FACILITY MGT": the transfer fails ("Beneficiary account is dormant ...")
    0690000033  "IBRAHIM & SONS PROPERTY": succeeds, then is reversed (two webhooks)
    0690000034  "ZENITH COURT RESIDENTS ASSOC": the initiate is processed, then held
                ``timeout_hold`` s and the connection closed; verify later shows success
    0690000035  "PALM GROVE ESTATE": the first initiate per reference is held and closed with
                nothing recorded (Paystack verify: 404); a resend under the same reference goes through
    other 10 digits: resolve fails "Could not resolve account name ..." (Paystack 422,
    Flutterwave 400); not 10 digits: "Account number must be 10 digits" (Paystack 422) /
    "account_number must be 10 digits" (Flutterwave 400).
  A transfer is created pending and settles at its first status check once
  ``transfer_settle_seconds`` have passed, or in the background then when ``transfer_webhooks``
  is on; each change of status sends the signed webhook: Paystack ``transfer.success|failed|
  reversed`` (x-paystack-signature) to ``<webhook_base>/webhooks/paystack`` (the integration's one
  URL; none while webhook_base is unset), Flutterwave ``transfer.completed`` (verif-hash) to the
  transfer's callback_url (else ``<webhook_base>/webhooks/flutterwave``). Seeded faults apply to
  initiates and status checks of 0690000031 only.

Termii, base ``<sandbox>/termii`` (api_key in the JSON body, ``termii-sandbox-api-key``):
    POST /api/sms/send {to, from, sms, type: "plain", channel: generic|dnd|whatsapp, api_key}
         -> {"message_id", "message": "Successfully Sent", "balance", "user"}; then the signed
         delivery report (X-Termii-Signature, hex HMAC-SHA512) to the ``termii_webhook_url`` knob.
  Test numbers +2348090000001 (reported Rejected), +2348090000002 (DND Active on Phone Number),
  +2348090000503 (first 2 sends 503); see ``termii.py``.

Hosted checkout ``/checkout/<paystack|flutterwave>/<reference>``: a plain HTML form with Pay and
Cancel. Pay succeeds unless the amount is exactly ₦113.13 (declined), then sends the webhook to
``<webhook_base or origin of the callback URL>/webhooks/<gateway>`` (short timeout; a failed
delivery is recorded and never fails the checkout), then redirects with 303 to the callback URL:
Paystack ``?trxref=&reference=`` (also after a decline or a cancel); Flutterwave
``?status=successful|failed|cancelled&tx_ref=&transaction_id=`` (no id after a cancel). Paystack
sends ``charge.success`` signed with ``x-paystack-signature`` (hex HMAC-SHA512 of the raw body with
the secret key) only for a success, and returns a reusable authorization (authorization_code,
last4, exp_month, exp_year, card_type, brand, reusable true); a successful charge_authorization
sends ``charge.success`` too, in the background, to the origin of the checkout that saved the
card. Flutterwave sends ``charge.completed`` (successful or failed) with ``verif-hash``. Cancel
makes the transaction abandoned (Flutterwave: "cancelled") and sends no webhook.

Test customer numbers (PROVIDERS.md), identical on both bill providers, per reference:
    1111111111111  valid prepaid meter "Ada Okafor"; succeeds at once with a token and units
    1010101010101  valid postpaid account with ₦12,500.00 outstanding; succeeds, no token
    2010000000000  pending; the 1st status query says pending, the 2nd success (with token)
    3000000000000  processed, then the answer is held ``timeout_hold`` s and the connection closed
    3000000000001  1st purchase call for a reference held and closed with no record (status: not
                   found); a resend under the same reference succeeds
    4000000000000  the first 3 calls per reference (purchase or status) answer 503 and process
                   nothing; from the 4th on, a normal number
    5000000000000  fails permanently "Meter blocked" (a failed record: status says failed)
    6000000000000  prepaid; succeeds without a token, which comes on the 2nd status check
    6000000000001  prepaid; succeeds without a token that never comes
    7000000000000  prepaid "Musa Danjuma", a meter due a key change; succeeds at once with a token,
                   and on VTpass with key change tokens in ``kct1``/``kct2`` (other meters: "N/A");
                   Flutterwave documents no such field, so its answers carry the token only
    9999999999999  customer not found (validation fails; a purchase is refused)
    other 10-13 digit numbers: valid with a generated name; succeed. Anything else: invalid.
  Prepaid electricity vends a token (never for 1010101010101). Amounts outside the item's
  minimum/maximum (a fixed-price plan's price is both) are refused and nothing is recorded.

Decisions where PROVIDERS.md is unsure or silent:
  - Flutterwave GET /bills/<x> takes its tx_ref or flw_ref, never our reference (its API reference
    calls the path "the tx_ref of the bill transaction").
  - Flutterwave reused bill reference (any state): HTTP 409 error envelope "Duplicate reference ..."
    (no transaction data); ask GET /bills/<reference> for the truth.
  - Flutterwave errors: refused purchases are HTTP 400 error envelopes; the blocked meter's says
    "Bill payment failed: Meter blocked ..." and keeps a failed record; unknown status is HTTP 404
    "Transaction not found ..."; an invalid customer at validation is HTTP 400 "Invalid customer id".
  - VTpass pay for an unknown customer answers 016 and keeps a failed record (so requery says
    failed); Flutterwave refuses it (400) without a record.
  - Flutterwave funding: a tx_ref can be re-initialized while unpaid (same link); verify of an unpaid
    checkout answers status "pending" (the transaction id is assigned at initialize).
  - Paystack verify of an unpaid checkout answers status "pending".
  - Transient answers: 503 ``{"status":"error",...}`` / VTpass ``{"code":"083",...}``; 429 likewise.

Knobs (``POST /_sandbox/config`` JSON, ``start_sandbox(**knobs)``, some as CLI options):
    latency                  seconds added to every provider API call (not the checkout page)
    fault_rate, seed         0..1 chance of a fault on a bill purchase/status call and (rate_limited
                             only) on a funding API call; decided by hash(seed, provider, operation,
                             reference, n-th call), so a run replays exactly
    fault_kinds              allowed kinds (default all): timeout_processed, timeout_unprocessed,
                             dropped_processed, dropped_unprocessed, unavailable (503), rate_limited
                             (429), not_processed (VTpass 091; Flutterwave 503), pending (resolved by
                             the next status query). Status calls only suffer timeout/dropped/503/429
                             and never change the truth. Faults only touch numbers whose scripted
                             outcome is plain success, so the scripted rows stay exact.
    timeout_hold             seconds a "timeout" holds before closing the connection (default 30)
    webhook_base             send checkout webhooks to <webhook_base>/webhooks/<gateway>
    webhook_timeout          seconds for a webhook delivery (default 3)
    request_id_window_hours  VTpass request_id tolerance (default 24; None: format only)
    duplicate_window         VTpass 019 window in seconds (default 30; 0: off; the test fixture sets 0)
    merchant_balance_kobo    None (unlimited) or the merchant float purchases may use (018 / 400)
    request_id_today_only    VTpass 085 unless the request_id is dated today in Lagos (default on)
    clock_offset_seconds     the sandbox's "now" moved by this many seconds (midnight tests)
    flw_listing_items        Flutterwave's listing lists each bill (default) or only its summary
    bill_webhooks, bill_webhook_delay   Flutterwave bill events to the callback_url (default on, 0.2 s)
    termii_webhook_url, termii_report_delay   where Termii delivery reports go (None: not sent) and
                             how long after the send (0.2 s)
    transfer_settle_seconds  seconds a transfer stays pending after it is created (default 0)
    transfer_webhooks        settle transfers in the background and send their webhooks (default on)
Control endpoints: ``GET|POST /_sandbox/config``, ``POST /_sandbox/reset`` (forget all state; knobs
stay), ``POST /_sandbox/disagree`` {provider, reference, how: succeeded|failed|missing|amount}
(make a recorded bill disagree with the app, for reconciliation), ``POST /_sandbox/transfer``
{account_number, amount_kobo, notify, claimed_amount_kobo, deliver}, ``POST /_sandbox/transfers/reverse``
{gateway, reference} (reverse a successful payout now and send its webhook; 404 unknown, 409 not
successful), ``GET /_sandbox/transactions`` (JSON dump: bills, attempts, funding, transfers,
recipients, webhooks, knobs), ``GET /``.

State is in memory behind one lock; the server is threaded, and a held "timeout" sleeps outside the
lock, so it never blocks other requests. "Closing the connection" shuts the socket down without any
HTTP answer: the client sees its read timeout or a dropped connection.
"""
