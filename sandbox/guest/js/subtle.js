// crypto.subtle: placeholder until the host side lands.
(function (native, g) {
  return {};
})
